"""``perfapi serve`` as a real process: embedded PostgreSQL, first start, restarts,
a second server on the same data directory, two servers racing on one database,
workers sharing a port."""

import asyncio
import os
from pathlib import Path

import httpx

from tests.cli.processes import STARTUP_TIMEOUT, Server, perfapi_env, start_server
from tests.support import bearer, fresh_database

STARTED = "Application startup complete"


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


def _workers(pid: int) -> list[int]:
    """The worker processes ``pid`` started (multiprocessing's spawned children; not its
    resource tracker, which ends by itself once its parent is gone)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


async def _until_started(server: Server, workers: int) -> None:
    """Read the server's log until each worker has started (the parent announces the
    port before its workers listen on it)."""
    assert server.process.stderr is not None
    stream = server.process.stderr

    async def started() -> None:
        while "".join(server.stderr).count(STARTED) < workers:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("the server ended: " + "".join(server.stderr))
            server.stderr.append(line)

    await asyncio.wait_for(started(), STARTUP_TIMEOUT)


async def test_workers_share_one_port_and_stop_together(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "workers") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url, PERFAPI_WORKERS="2")
        server = await start_server(env)
        try:
            assert server.ready, "".join(server.stderr)
            token = await server.read_token()  # bootstrapped once, before the workers
            await _until_started(server, workers=2)
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                answers = await asyncio.gather(
                    *(_list_keys(server.base_url, token) for _ in range(8))
                )
                assert {answer.status_code for answer in answers} == {200}
                assert (await http.get("/readyz")).status_code == 200
            workers = _workers(server.process.pid)
            assert len(workers) == 2, workers
        finally:
            assert await server.stop() == 0, "".join(server.stderr)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # noqa: ASYNC240
    assert "".join(server.stdout).count("pfk_") == 1
