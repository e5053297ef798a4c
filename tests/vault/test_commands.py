"""`perfapi serve` and `perfapi secrets` as real processes: the key file made at first
start and kept, a rotation while a server serves, configured keys, bad keys."""

import base64
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from perfapi.cli import main
from perfapi.config import Settings
from perfapi.db.engine import create_engine, create_sessionmaker
from perfapi.db.migrate import migrate
from perfapi.vault.keyfile import read_key_file
from perfapi.vault.keys import encode_key, key_id, key_id_of, new_key
from tests.cli.processes import perfapi_env, run_cli, start_server
from tests.points.helpers import create_kpi
from tests.support import Tenant, fresh_database, make_tenant, running
from tests.vault.helpers import tampered
from tests.webhooks.helpers import KPI, create_source, send_standard, simple_payload


async def _stored_secret(url: str, source_id: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            secret: str = await connection.scalar(
                text("SELECT secret FROM webhook_sources WHERE id = :id"),
                {"id": uuid.UUID(source_id)},
            )
            return secret
    finally:
        await engine.dispose()


async def _set_stored_secret(url: str, source_id: str, value: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE webhook_sources SET secret = :value WHERE id = :id"),
                {"value": value, "id": uuid.UUID(source_id)},
            )
    finally:
        await engine.dispose()


async def test_the_key_file_is_made_at_first_start_kept_and_rotated_while_serving(
    database_server_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    path = data_dir / "secret.key"
    async with fresh_database(database_server_url, "keyfile") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url, PERFAPI_DATA_DIR=str(data_dir))
        server = await start_server(env)
        try:
            assert server.ready, "".join(server.stderr)
            assert "PERFAPI_SECRET_KEY is not set" in "".join(server.stderr)
            assert (path.stat().st_mode & 0o777) == 0o600
            first = read_key_file(path)
            tenant = Tenant(id=uuid.UUID(int=0), name="default", token=await server.read_token())
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
                await create_kpi(http, tenant, KPI)
                source = await create_source(http, tenant)
                assert (await send_standard(http, source, simple_payload(1.0))).status_code == 200

                code, out, err = await run_cli("secrets", "rotate-key", env=env)
                assert code == 0, err
                rotated = read_key_file(path)
                assert "re-encrypted 1 secret(s): webhook_sources.secret 1" in out
                assert f"only key {rotated.current_id} is needed" in out
                assert rotated.ids == [rotated.current_id, first.current_id]
                assert key_id_of(await _stored_secret(url, source["id"])) == rotated.current_id

                # The running server reads the new key file at once: no restart.
                answer = await send_standard(http, source, simple_payload(2.0, hour=10))
                assert answer.status_code == 200, answer.text
                newer = await create_source(http, tenant)
                assert key_id_of(await _stored_secret(url, newer["id"])) == rotated.current_id
        finally:
            assert await server.stop() == 0
        after_rotation = path.read_text()

        restarted = await start_server(env)
        try:
            assert restarted.ready, "".join(restarted.stderr)
            async with httpx.AsyncClient(base_url=restarted.base_url, trust_env=False) as http:
                answer = await send_standard(http, source, simple_payload(3.0, hour=11))
                assert answer.status_code == 200, answer.text
        finally:
            assert await restarted.stop() == 0
        assert path.read_text() == after_rotation, "a restart must reuse the key file"


async def test_rotate_key_with_configured_keys_reports_what_failed(
    database_server_url: str, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    async with fresh_database(database_server_url, "keyenv") as url:
        engine = create_engine(url, settings)
        try:
            await migrate(engine)
            tenant = await make_tenant(create_sessionmaker(engine), "acme")
        finally:
            await engine.dispose()
        serving = settings.model_copy(
            update={"database_url": url, "secret_key": SecretStr(encode_key(old))}
        )
        async with running(serving) as http:
            kept = await create_source(http, tenant)
            broken = await create_source(http, tenant)
        await _set_stored_secret(
            url, broken["id"], tampered(await _stored_secret(url, broken["id"]))
        )

        rotating = perfapi_env(
            PERFAPI_DATABASE_URL=url,
            PERFAPI_SECRET_KEY=encode_key(new),
            PERFAPI_SECRET_KEYS_PREVIOUS=encode_key(old),
        )
        code, out, err = await run_cli("secrets", "rotate-key", env=rotating)
        reencrypted = await _stored_secret(url, kept["id"])
    assert code == 1, out + err
    assert "Traceback" not in err
    assert f"stored secrets are encrypted under key {key_id(new)}\n" in out
    assert "re-encrypted 1 secret(s): webhook_sources.secret 1" in out
    assert "failed: 1 secret(s) could not be re-encrypted:" in out
    assert f"  webhook_sources.secret of {broken['id']} (org {tenant.id}): " in out
    assert f"still under other keys: {key_id(old)} (1)" in out
    assert key_id_of(reencrypted) == key_id(new)


def test_bad_keys_stop_commands_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, as `perfapi` runs it: main() turns bad settings into messages."""
    short = base64.b64encode(b"too short").decode()
    for name, value, args, message in [
        (
            "PERFAPI_SECRET_KEY",
            short,
            ["migrate"],
            "error: PERFAPI_SECRET_KEY must be the base64 of 32 bytes, not 9",
        ),
        (
            "PERFAPI_SECRET_KEYS_PREVIOUS",
            encode_key(new_key()),
            ["secrets", "rotate-key"],
            "error: PERFAPI_SECRET_KEYS_PREVIOUS needs PERFAPI_SECRET_KEY",
        ),
    ]:
        with monkeypatch.context() as patched:
            patched.setenv(name, value)
            patched.setattr(sys, "argv", ["perfapi", *args])
            with pytest.raises(SystemExit) as exited:
                main()
        assert exited.value.code == 1
        err = capsys.readouterr().err
        assert message in err
        assert value not in err
        assert "Traceback" not in err

    monkeypatch.setattr(sys, "argv", ["perfapi", "secrets", "generate-key"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert len(base64.b64decode(capsys.readouterr().out.strip(), validate=True)) == 32
