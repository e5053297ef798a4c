"""``perfapi serve`` as a real process: embedded PostgreSQL, first start, restarts,
a second server on the same data directory, two servers racing on one database."""

import asyncio
from pathlib import Path

import httpx

from tests.cli.processes import perfapi_env, start_server
from tests.support import bearer, fresh_database


async def _list_keys(base_url: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as http:
        return await http.get("/v1/api-keys", headers=bearer(token))


async def test_embedded_server_first_start_restart_and_exclusive_data_dir(
    tmp_path: Path,
) -> None:
    env = perfapi_env(PERFAPI_DATA_DIR=str(tmp_path / "data"))

    first = await start_server(env)
    try:
        assert first.ready, "".join(first.stderr)
        token = await first.read_token()
        listed = await _list_keys(first.base_url, token)
        assert listed.status_code == 200
        assert listed.json()["items"][0]["scopes"] == ["admin", "ingest", "read", "write"]

        second = await start_server(env)
        assert await second.exited() == 1, "".join(second.stderr)
        assert not second.ready
        assert "in use by another perfapi server" in "".join(second.stderr)
        assert (await _list_keys(first.base_url, token)).status_code == 200
    finally:
        assert await first.stop() == 0

    restarted = await start_server(env)
    try:
        assert restarted.ready, "".join(restarted.stderr)
        again = await _list_keys(restarted.base_url, token)
        assert again.status_code == 200
        assert len(again.json()["items"]) == 1
    finally:
        assert await restarted.stop() == 0
    assert restarted.printed_token() is None, "a second start must not print a new key"


async def test_two_servers_starting_at_once_on_one_database(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "twoservers") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url)
        servers = await asyncio.gather(start_server(env), start_server(env))
        try:
            assert all(server.ready for server in servers), [s.stderr for s in servers]
            for server in servers:
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    assert (await http.get("/readyz")).status_code == 200
        finally:
            codes = [await server.stop() for server in servers]
        assert codes == [0, 0]
        tokens = [server.printed_token() for server in servers]
        assert len([token for token in tokens if token is not None]) == 1
