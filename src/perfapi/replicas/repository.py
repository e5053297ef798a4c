"""The SQL of watching a replica: WAL positions, recovery, and the schema revision."""

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

# pg_lsn minus the zero position: the position as a plain number of bytes.
_WAL_POSITION = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
_REPLAY = text(
    "SELECT pg_is_in_recovery() AS in_recovery, "
    "pg_last_wal_replay_lsn() - '0/0'::pg_lsn AS replayed"
)


@dataclass(frozen=True)
class Replay:
    in_recovery: bool
    """False: the server is no replica but a primary of its own."""
    replayed: int | None
    """How far its WAL replay has come; None before it replayed anything."""


async def wal_position(primary: AsyncConnection) -> int:
    """Where the primary's WAL stands: everything committed so far lies before it."""
    return int(await primary.scalar(_WAL_POSITION))


async def replay(replica: AsyncConnection) -> Replay:
    row = (await replica.execute(_REPLAY)).one()
    return Replay(
        in_recovery=bool(row.in_recovery),
        replayed=None if row.replayed is None else int(row.replayed),
    )


async def schema_revisions(connection: AsyncConnection) -> tuple[str, ...]:
    """The alembic revisions the database is at; none where alembic never ran."""

    def heads(sync_connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(sync_connection).get_current_heads())

    return await connection.run_sync(heads)
