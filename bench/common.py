"""Shared by the benchmarks: a fresh database and a real `perfapi serve` on it.

The database server is PERFAPI_BENCH_DATABASE_URL, else the machine's
PostgreSQL at 127.0.0.1:5432, else an embedded one in a temporary directory.
Each run creates its own database there and drops it at the end. Nothing is
sent anywhere but 127.0.0.1 (or a local Unix socket).
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from perfapi.config import Settings
from perfapi.db.embedded import embedded_postgres

TOKEN = re.compile(r"pfk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def asyncpg_url(url: str) -> str:
    converted = Settings(database_url=url).database_url
    assert converted is not None
    return converted


def libpq_url(url: str) -> str:
    """The same URL for asyncpg.connect (no +asyncpg driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _reachable(url: str) -> bool:
    engine = create_async_engine(asyncpg_url(url), connect_args={"timeout": 3})
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def _run_admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(asyncpg_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Yield the asyncpg URL of a new, empty database; drop it afterwards."""
    with ExitStack() as stack:
        server = os.environ.get("PERFAPI_BENCH_DATABASE_URL", DEFAULT_SERVER)
        if not asyncio.run(_reachable(server)):
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="perfapi-bench-"))
            server = stack.enter_context(embedded_postgres(Path(data_dir)))
        name = f"perfapi_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_run_admin(server, f'CREATE DATABASE "{name}"'))
        try:
            yield (
                make_url(asyncpg_url(server))
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            asyncio.run(_run_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    token: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def running_server(
    database_url: str,
    settings: Mapping[str, str] | None = None,
    *,
    token: str | None = None,
    workers: int = 1,
) -> Iterator[Server]:
    """`perfapi serve` on the database, with ``workers`` processes; its bootstrap admin key,
    or ``token`` on a database that has its first key already (none is printed then).
    ``settings`` (PERFAPI_* variables) are passed on; the caller's own are not. Returns once
    every process serves."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFAPI_")}
    env.update(settings or {})
    env.update(
        PERFAPI_DATABASE_URL=database_url,
        PERFAPI_PORT=str(port),
        PERFAPI_LOG_LEVEL="warning",
        # The benchmarks send through one key as fast as they can: measure, not limit.
        PERFAPI_RATE_LIMIT_PER_MINUTE="1000000",
        PERFAPI_WORKERS=str(workers),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "perfapi", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout if token is None else ():
            if match := TOKEN.search(line):
                token = match.group(0)
                break
        if token is None:
            raise RuntimeError("perfapi serve printed no key")
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        while asyncio.run(_listening_processes(database_url)) < workers:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"not all {workers} processes of perfapi serve started")
            time.sleep(0.1)
        yield Server(process=process, base_url=base_url, token=token)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _listening_processes(database_url: str) -> int:
    """Server processes that started on the database: each listens for events on one
    connection once its startup ran, just before it takes requests (uvicorn's workers
    share a port, so asking the port cannot tell them apart)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        return count
    finally:
        await connection.close()


@contextmanager
def cloned_database(database_url: str) -> Iterator[str]:
    """A copy of the database (PostgreSQL's CREATE DATABASE ... TEMPLATE, statistics
    included), dropped afterwards. Nothing may be connected to the original meanwhile."""
    url = make_url(database_url)
    original = url.database
    clone = f"{original}_copy"
    # Connected to the server's own database: a connection to the original would block it.
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    # A server stopped a moment ago may still have backends ending: wait for them.
    deadline = time.monotonic() + 30
    while True:
        try:
            asyncio.run(_run_admin(admin, f'CREATE DATABASE "{clone}" TEMPLATE "{original}"'))
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield url.set(database=clone).render_as_string(hide_password=False)
    finally:
        asyncio.run(_run_admin(admin, f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)'))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for pid {pid}")


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM (Linux: writing 5 to clear_refs), so the next peak is this run's."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
