"""An embedded PostgreSQL (the ``pgserver`` wheel) living in perfapi's data directory.

One ``perfapi serve`` owns a data directory at a time: a second one gets
:class:`DataDirInUseError` before it touches the server. Short-lived commands
(``perfapi keys create`` while the server runs) share the running PostgreSQL;
pgserver counts the processes using it and stops it when the last one leaves.
"""

import fcntl
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

DATABASE_NAME = "perfapi"
_DATABASE_EXISTS = "SELECT 'present' FROM pg_database WHERE datname = 'perfapi';"
_CREATE_DATABASE = "CREATE DATABASE perfapi;"


class DataDirInUseError(RuntimeError):
    pass


@contextmanager
def serve_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's server lock, or raise :class:`DataDirInUseError`."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / "serve.lock"
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise DataDirInUseError(
                f"the data directory {data_dir} is in use by another perfapi server "
                f"(pid {owner}); stop it or set PERFAPI_DATA_DIR to another directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the lock


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or initialise, then start) the embedded server; yield its asyncpg URL.

    The server is stopped when the context exits. Data stays in ``data_dir/postgres``.
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory at import time; with no
        # XDG_RUNTIME_DIR (root, containers) that warns and falls back to
        # /tmp/runtime-<uid>, which serves pgserver's lock file well.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    try:
        if "present" not in server.psql(_DATABASE_EXISTS):
            server.psql(_CREATE_DATABASE)
        yield asyncpg_url(server.get_uri(DATABASE_NAME))
    finally:
        server.cleanup()


def asyncpg_url(libpq_uri: str) -> str:
    """``postgresql://postgres:@/db?host=/sock`` -> the SQLAlchemy asyncpg form."""
    rest = libpq_uri.removeprefix("postgresql://").replace("postgres:@", "postgres@", 1)
    return "postgresql+asyncpg://" + rest
