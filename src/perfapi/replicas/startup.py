"""Opening the read replica at startup: reachable, and a copy of the primary's database,
or the server does not start."""

import asyncio
import logging
import time

from prometheus_client import Counter
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from perfapi.config import Settings
from perfapi.db.engine import create_engine
from perfapi.replicas import repository
from perfapi.replicas.health import root_cause
from perfapi.replicas.replica import ReadReplica

log = logging.getLogger("perfapi.replicas")

SETTING = "PERFAPI_READ_DATABASE_URL"
# Connecting to the replica gives up after this: a replica that does not answer is
# passed over quickly rather than holding requests until the driver's default minute.
CONNECT_TIMEOUT_SECONDS = 2.0
# A replica replays a migration the primary has just run within moments; one that has
# not after this long is not keeping up.
CATCH_UP_AT_START_SECONDS = 30.0
_CATCH_UP_POLL_SECONDS = 0.1


class ReplicaUnusableError(RuntimeError):
    """The configured read replica cannot serve reads; the message names the setting."""


def create_replica_engine(url: str, settings: Settings) -> AsyncEngine:
    # Unlike the primary's pool, it pings: a connection to a replica that went away is
    # found when a request takes it, while the request can still go to the primary.
    return create_engine(url, settings, pre_ping=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)


async def open_read_replica(
    settings: Settings, primary: AsyncEngine, fallbacks: Counter
) -> ReadReplica | None:
    """The configured replica, checked and measured once; None when none is configured."""
    if settings.read_database_url is None:
        return None
    engine = create_replica_engine(settings.read_database_url, settings)
    try:
        await verify_replica(engine, primary, settings.read_database_url)
        replica = ReadReplica(engine, primary, settings, fallbacks)
        await replica.check()
    except BaseException:
        await engine.dispose()
        raise
    return replica


async def check_read_replica(settings: Settings) -> None:
    """``verify_replica`` with engines of its own, for a command to run before serving."""
    assert settings.database_url is not None
    if settings.read_database_url is None:
        return
    primary = create_engine(settings.database_url, settings)
    replica = create_replica_engine(settings.read_database_url, settings)
    try:
        await verify_replica(replica, primary, settings.read_database_url)
    finally:
        await replica.dispose()
        await primary.dispose()


async def verify_replica(replica: AsyncEngine, primary: AsyncEngine, url: str) -> None:
    """Raise :class:`ReplicaUnusableError` unless ``replica`` answers and holds the
    primary's database at the primary's schema revision."""
    where = make_url(url).render_as_string(hide_password=True)
    async with primary.connect() as connection:
        wanted = await repository.schema_revisions(connection)
        position = await repository.wal_position(connection)
    try:
        async with replica.connect() as connection:
            found = await repository.schema_revisions(connection)
            replay = await repository.replay(connection)
            deadline = time.monotonic() + CATCH_UP_AT_START_SECONDS
            # Just migrated, the primary may be ahead of its replica by the migration.
            while (
                found != wanted
                and replay.in_recovery
                and (replay.replayed is None or replay.replayed < position)
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(_CATCH_UP_POLL_SECONDS)
                replay = await repository.replay(connection)
                found = await repository.schema_revisions(connection)
    except Exception as exc:
        raise ReplicaUnusableError(
            f"{SETTING}: cannot read from {where}: {root_cause(exc)}"
        ) from exc
    if found != wanted:
        raise ReplicaUnusableError(
            f"{SETTING}: {where} is not a copy of the primary's database: its schema "
            f"revision is {_revisions(found)}, the primary's {_revisions(wanted)}"
        )
    if not replay.in_recovery:
        log.warning(
            "%s names a server that is not a replica (not in recovery): reports read from it "
            "as if it were one that never lags",
            SETTING,
        )


def _revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "none (no perfapi schema)"
