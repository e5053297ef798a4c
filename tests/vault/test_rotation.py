"""Key rotation in process: every stored secret re-encrypted under the new key, the old
key unneeded afterwards, a secret that fails reported without stopping the rest."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from perfapi.config import Settings
from perfapi.db.engine import create_engine, create_sessionmaker
from perfapi.db.migrate import migrate
from perfapi.vault.keyfile import read_key_file, write_key_file
from perfapi.vault.keys import Keyring, KeyUnavailableError, encode_key, key_id, new_key
from perfapi.vault.repository import rotation_lock
from perfapi.vault.rotation import rotate_key
from tests.support import Tenant, fresh_database, make_tenant, running
from tests.vault.helpers import TABLES, Sessions, opened, overwrite, stored, tampered
from tests.webhooks.helpers import KPI, SOURCES, create_source, send_standard, simple_payload

ENDPOINTS = "/v1/webhook-endpoints"


@asynccontextmanager
async def _database(server_url: str, label: str) -> AsyncIterator[tuple[str, Sessions]]:
    async with fresh_database(server_url, label) as url:
        engine = create_engine(url, Settings(database_url=url))
        try:
            await migrate(engine)
            yield url, create_sessionmaker(engine)
        finally:
            await engine.dispose()


def _with_keys(settings: Settings, current: bytes, *previous: bytes) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr(encode_key(current)),
            "secret_keys_previous": [SecretStr(encode_key(key)) for key in previous],
        }
    )


async def _secrets_of_every_kind(
    settings: Settings, tenant: Tenant
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three sources and two endpoints, one of each rotated (so with a previous secret);
    and the KPI the sources' payloads name."""
    async with running(settings) as http:
        kpi = await http.post("/v1/kpis", headers=tenant.headers, json={"key": KPI, "name": KPI})
        assert kpi.status_code == 201, kpi.text
        sources = [await create_source(http, tenant) for _ in range(3)]
        rotated = await http.post(
            f"{SOURCES}/{sources[0]['id']}/rotate-secret", headers=tenant.headers
        )
        sources[0] = {**sources[0], "secret": rotated.json()["secret"]}
        endpoints = []
        for number in range(2):
            response = await http.post(
                ENDPOINTS,
                headers=tenant.headers,
                json={"url": f"http://127.0.0.1:9/{number}", "events": ["*"]},
            )
            assert response.status_code == 201, response.text
            endpoints.append(response.json())
        rotated = await http.post(
            f"{ENDPOINTS}/{endpoints[0]['id']}/rotate-secret", headers=tenant.headers
        )
        assert rotated.status_code == 200, rotated.text
    return sources, endpoints


async def _all_stored(sessions: Sessions, tenant: Tenant, ids: dict[str, list[str]]) -> list[Any]:
    found = []
    for table in TABLES:
        for row_id in ids[table]:
            secret, previous = await stored(sessions, table, row_id)
            found.append((table, "secret", row_id, secret))
            if previous is not None:
                found.append((table, "previous_secret", row_id, previous))
    return found


async def test_rotation_reencrypts_every_secret_and_the_old_key_is_then_unneeded(
    database_server_url: str, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    async with _database(database_server_url, "rotate") as (url, sessions):
        tenant = await make_tenant(sessions, "acme")
        before = _with_keys(settings.model_copy(update={"database_url": url}), old)
        sources, endpoints = await _secrets_of_every_kind(before, tenant)
        ids = {
            "webhook_sources": [source["id"] for source in sources],
            "webhook_endpoints": [endpoint["id"] for endpoint in endpoints],
        }
        # One secret no key decrypts: reported, and the rest goes on.
        broken = sources[2]["id"]
        secret, _ = await stored(sessions, "webhook_sources", broken)
        await overwrite(sessions, "webhook_sources", broken, "secret", tampered(secret))

        during = _with_keys(before, new, old)
        report = await rotate_key(during, None)

        assert dict(report.reencrypted) == {
            "webhook_sources.secret": 2,
            "webhook_sources.previous_secret": 1,
            "webhook_endpoints.secret": 2,
            "webhook_endpoints.previous_secret": 1,
        }
        [failure] = report.failures
        assert failure.place is not None
        assert (failure.place.table, failure.place.column) == ("webhook_sources", "secret")
        assert str(failure.place.row_id) == broken
        assert "altered" in failure.reason
        assert report.others == {key_id(old): 1}
        assert report.key_file is None
        text = "\n".join(report.lines())
        assert f"stored secrets are encrypted under key {key_id(new)}" in text
        assert f"webhook_sources.secret of {broken}" in text
        assert f"still under other keys: {key_id(old)} (1)" in text

        alone = Keyring(new)
        for table, column, row_id, value in await _all_stored(sessions, tenant, ids):
            if row_id == broken and column == "secret":
                continue
            assert value.startswith(f"v1.{key_id(new)}."), (table, column)
            opened(alone, value, table, column, tenant.id, row_id)  # decrypts: no error
        after = _with_keys(before, new)
        async with running(after) as http:
            for source in sources[:2]:
                answer = await send_standard(http, source, simple_payload())
                assert answer.status_code == 200, answer.text

        # The row repaired (a rotation), a second run finds nothing left under the old key.
        async with running(during) as http:
            repaired = await http.post(f"{SOURCES}/{broken}/rotate-secret", headers=tenant.headers)
            assert repaired.status_code == 200, repaired.text
        again = await rotate_key(during, None)
        assert again.failures == []
        assert sum(again.reencrypted.values()) == 0
        assert again.others == {}
        assert "only key" in again.lines()[-1]


async def test_rotating_the_key_file(
    database_server_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with _database(database_server_url, "rotatefile") as (url, sessions):
        tenant = await make_tenant(sessions, "acme")
        own = settings.model_copy(update={"database_url": url, "data_dir": tmp_path})
        sources, endpoints = await _secrets_of_every_kind(own, tenant)
        path = tmp_path / "secret.key"
        first = read_key_file(path)

        report = await rotate_key(own, None)
        second = read_key_file(path)
        assert report.key_file == path
        assert second.current_id == report.key_id != first.current_id
        assert second.ids == [report.key_id, first.current_id]
        assert (path.stat().st_mode & 0o777) == 0o600
        assert report.failures == []
        assert sum(report.reencrypted.values()) == 7
        ids = {
            "webhook_sources": [source["id"] for source in sources],
            "webhook_endpoints": [endpoint["id"] for endpoint in endpoints],
        }
        alone = Keyring(second.keys[0])
        for table, column, row_id, value in await _all_stored(sessions, tenant, ids):
            opened(alone, value, table, column, tenant.id, row_id)
        # A server reading the file (as running ones do at each use) verifies as before.
        async with running(own) as http:
            answer = await send_standard(http, sources[1], simple_payload())
            assert answer.status_code == 200, answer.text

        # A chosen key; the key two rotations back is no longer kept.
        chosen = new_key()
        await rotate_key(own, encode_key(chosen))
        assert read_key_file(path).ids == [key_id(chosen), second.current_id]
        with pytest.raises(KeyUnavailableError, match="is the current key already"):
            await rotate_key(own, encode_key(chosen))
        with pytest.raises(KeyUnavailableError, match="the new key is not base64"):
            await rotate_key(own, "not a key")


async def test_with_a_configured_key_the_new_key_is_the_operators_to_deploy(
    database_server_url: str, settings: Settings
) -> None:
    async with _database(database_server_url, "rotateenv") as (url, _):
        configured = _with_keys(settings.model_copy(update={"database_url": url}), new_key())
        with pytest.raises(KeyUnavailableError, match="the new key is yours to deploy"):
            await rotate_key(configured, encode_key(new_key()))


async def test_one_rotation_at_a_time_and_never_of_a_lost_key_file(
    database_server_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with _database(database_server_url, "rotatelock") as (url, _):
        own = settings.model_copy(update={"database_url": url, "data_dir": tmp_path})
        # No key file: rotating would make up an "old" key nothing was encrypted under.
        with pytest.raises(KeyUnavailableError, match="missing"):
            await rotate_key(own, None)
        assert not (tmp_path / "secret.key").exists()

        write_key_file(tmp_path / "secret.key", Keyring(new_key()))
        before = read_key_file(tmp_path / "secret.key").ids
        engine = create_engine(url, own)
        try:
            async with rotation_lock(engine) as held:
                assert held
                with pytest.raises(KeyUnavailableError, match=r"another .* is running"):
                    await rotate_key(own, None)
        finally:
            await engine.dispose()
        assert read_key_file(tmp_path / "secret.key").ids == before
        report = await rotate_key(own, None)  # the lock is free again
        assert read_key_file(tmp_path / "secret.key").ids == [report.key_id, *before]
