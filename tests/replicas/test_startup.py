"""A read replica that cannot serve stops the server at start, with a message that names
PERFAPI_READ_DATABASE_URL and never its password; a server that is no replica at all is
taken, with a warning, as one that never lags."""

import logging
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.replicas.startup import ReplicaUnusableError
from tests.cli.processes import free_port, perfapi_env, start_server
from tests.replicas.helpers import fallbacks
from tests.support import fresh_database, make_tenant, running

PASSWORD = "s3cret-replica-pw"
SETTING = "PERFAPI_READ_DATABASE_URL"


def _settings(database_url: str, read_database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        read_database_url=read_database_url,
        log_json=False,
        rollup_refresh_seconds=0,
        derived_events_seconds=0,
        webhook_delivery_seconds=0,
        points_partition_maintenance_seconds=0,
        read_lag_check_seconds=0,
    )


def _closed_port_url() -> str:
    return f"postgresql://perfapi:{PASSWORD}@127.0.0.1:{free_port()}/perfapi"


async def _start_error(settings: Settings) -> str:
    with pytest.raises(ReplicaUnusableError) as raised:
        async with running(settings):
            pass
    message = str(raised.value)
    assert message.startswith(f"{SETTING}: "), message
    assert PASSWORD not in message
    return message


async def test_a_replica_nobody_listens_for_stops_the_start(database_url: str) -> None:
    url = _closed_port_url()
    message = await _start_error(_settings(database_url, url))
    port = make_url(url).port
    assert f"cannot read from postgresql+asyncpg://perfapi:***@127.0.0.1:{port}/perfapi" in message


async def test_a_database_the_replica_does_not_have_stops_the_start(
    database_url: str, database_server_url: str
) -> None:
    missing = f"perfapi_no_such_{uuid.uuid4().hex[:8]}"
    url = make_url(database_server_url).set(database=missing, password=PASSWORD)
    message = await _start_error(_settings(database_url, url.render_as_string(hide_password=False)))
    assert f'database "{missing}" does not exist' in message


async def test_a_database_that_is_not_a_copy_stops_the_start(
    database_url: str, database_server_url: str
) -> None:
    async with fresh_database(database_server_url, "notacopy") as other:
        message = await _start_error(_settings(database_url, other))
    assert "is not a copy of the primary's database" in message
    assert "its schema revision is none (no perfapi schema)" in message


async def test_a_server_that_is_no_replica_serves_as_one_that_never_lags(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = await make_tenant(sessionmaker, f"solo-{uuid.uuid4().hex[:8]}")
    async with running(_settings(database_url, database_url)) as client:
        answered = await client.get("/v1/reports/alignment", headers=tenant.headers)
        assert answered.status_code == 200, answered.text
        assert await fallbacks(client) == {"lag": 0, "down": 0}
    warned = [record for record in caplog.records if record.name == "perfapi.replicas"]
    assert [record.levelno for record in warned] == [logging.WARNING]
    assert "not a replica (not in recovery)" in warned[0].getMessage()


async def test_serve_exits_with_the_reason_and_without_the_password(
    database_server_url: str,
) -> None:
    async with fresh_database(database_server_url, "replicaserve") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url, PERFAPI_READ_DATABASE_URL=_closed_port_url())
        server = await start_server(env)
        code = await server.exited()
    output = "".join(server.stdout + server.stderr)
    assert code == 1, output
    assert not server.ready
    assert f"error: {SETTING}: cannot read from" in " ".join(output.split())
    assert PASSWORD not in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@db:5432/perfapi", "postgresql+asyncpg://u@db:5432/perfapi"),
        ("postgresql://u@db/perfapi", "postgresql+asyncpg://u@db/perfapi"),
        ("", None),
    ],
)
def test_the_setting_takes_the_usual_url_forms(given: str, expected: str | None) -> None:
    assert Settings(read_database_url=given).read_database_url == expected


def test_a_url_of_another_kind_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(read_database_url=f"mysql://u:{PASSWORD}@db/perfapi")
    errors: list[Any] = raised.value.errors()
    assert [error["loc"] for error in errors] == [("read_database_url",)]
    assert PASSWORD not in str(raised.value)
