"""A PostgreSQL primary and its streaming replica, of the tests' own.

Made with the server binaries of the ``pgserver`` wheel (PostgreSQL 16): ``initdb``
for the primary, ``pg_basebackup -R`` for the replica, each run by ``pg_ctl`` on
a free loopback port. PostgreSQL refuses to run as root; as root (CI) the servers
run as the ``pgserver`` system user, as pgserver itself does.
"""

import asyncio
import importlib.util
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.cli.processes import free_port

SYSTEM_USER = "pgserver"
DATABASE = "perfapi"
COMMAND_TIMEOUT = 120.0
CATCH_UP_TIMEOUT = 60.0

# Durability is not what these servers are for.
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on
"""


def _bin_dir() -> Path:
    # Found, not imported: importing pgserver warns where XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None, "pgserver is not installed"
    assert spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _system_user() -> str | None:
    """Who runs the servers: the current user, or ``pgserver`` for root."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as above
        from pgserver.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


@dataclass
class Cluster:
    root: Path
    user: str | None
    primary_port: int
    replica_port: int

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"

    def url(self, port: int, database: str = DATABASE) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.url(self.replica_port)

    def run(self, tool: str, *args: str) -> str:
        """Run one of the server's programs; its output, or an error that shows it."""
        # Files, not pipes: the server pg_ctl starts would hold a pipe open forever.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(
                [str(_bin_dir() / tool), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                cwd=self.root,
                timeout=COMMAND_TIMEOUT,
                check=False,
                text=True,
            )
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed:\n{output}")
        return output

    def start(self, data_dir: Path) -> None:
        self.run("pg_ctl", "-D", str(data_dir), "-l", str(data_dir / "server.log"), "-w", "start")

    def stop(self, data_dir: Path, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(data_dir), "-m", mode, "-w", "stop")

    def stop_replica(self) -> None:
        self.stop(self.replica_dir)

    def start_replica(self) -> None:
        self.start(self.replica_dir)


@contextmanager
def streaming_cluster() -> Iterator[Cluster]:
    """A running primary with a database ``perfapi`` and a replica streaming from it;
    both stopped, and their files removed, at the end."""
    root = Path(tempfile.mkdtemp(prefix="perfapi-replicas-"))
    user = _system_user()
    if user is not None:
        shutil.chown(root, user)
    cluster = Cluster(root, user, free_port(), free_port())
    started: list[Path] = []
    try:
        cluster.run(
            "initdb", "-D", str(cluster.primary_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        _configure(cluster.primary_dir, cluster.primary_port)
        cluster.start(cluster.primary_dir)
        started.append(cluster.primary_dir)
        cluster.run(
            "psql", "-h", "127.0.0.1", "-p", str(cluster.primary_port), "-U", "postgres",
            "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}",
        )  # fmt: skip
        cluster.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.primary_port), "-U", "postgres",
            "-D", str(cluster.replica_dir), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        _configure(cluster.replica_dir, cluster.replica_port)
        cluster.start(cluster.replica_dir)
        started.append(cluster.replica_dir)
        yield cluster
    finally:
        for data_dir in reversed(started):
            if (data_dir / "postmaster.pid").exists():
                cluster.stop(data_dir, mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def _configure(data_dir: Path, port: int) -> None:
    # Later lines win: the replica's copy of the primary's settings gets its own port.
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(SERVER_SETTINGS.format(port=port))


async def wal_position(primary: AsyncEngine) -> int:
    async with primary.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_current_wal_lsn() - '0/0'")))


async def caught_up(primary: AsyncEngine, replica: AsyncEngine) -> None:
    """Return once the replica has replayed everything the primary has written so far.

    Each round asks the replica again; a replica that never gets there fails the test.
    """
    target = await wal_position(primary)
    replayed = text("SELECT pg_last_wal_replay_lsn() - '0/0'")
    async with asyncio.timeout(CATCH_UP_TIMEOUT), replica.connect() as connection:
        while int(await connection.scalar(replayed)) < target:
            await connection.rollback()  # the next round in a new snapshot


async def pause_replay(replica: AsyncEngine) -> None:
    """Stop the replica's replay, returning once it has stopped (not merely been asked)."""
    async with replica.connect() as connection:
        await connection.execute(text("SELECT pg_wal_replay_pause()"))
        async with asyncio.timeout(CATCH_UP_TIMEOUT):
            while await connection.scalar(text("SELECT pg_get_wal_replay_pause_state()")) != (
                "paused"
            ):
                await connection.rollback()


async def resume_replay(replica: AsyncEngine) -> None:
    async with replica.connect() as connection:
        await connection.execute(text("SELECT pg_wal_replay_resume()"))


def engine(url: str) -> AsyncEngine:
    return create_async_engine(url)
