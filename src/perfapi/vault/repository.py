"""SQL of key rotation: rows whose secrets are under another key, one row at a time.

Table and column names come from :mod:`perfapi.vault.places`, never from input.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from perfapi.vault.keys import STORED_PREFIX
from perfapi.vault.places import SECRET_COLUMNS, SECRET_TABLES

RowKey = tuple[UUID, UUID]

# The advisory lock one key rotation at a time holds ("rtky").
_ROTATION_LOCK = 0x72746B79


@asynccontextmanager
async def rotation_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Whether this rotation holds the lock (False: another one runs), held on a
    connection of its own until the block ends."""
    async with engine.connect() as connection:
        held = bool(
            await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _ROTATION_LOCK}
            )
        )
        await connection.commit()
        try:
            yield held
        finally:
            if held:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _ROTATION_LOCK}
                )
                await connection.commit()


def _checked(table: str) -> str:
    if table not in SECRET_TABLES:
        raise ValueError(f"{table} holds no secrets")
    return table


async def rows_not_under(
    session: AsyncSession, table: str, key_id: str, after: RowKey | None, limit: int
) -> list[RowKey]:
    """Keys (org_id, id) of rows with a secret not under ``key_id``, in key order after
    ``after``."""
    rows = await session.execute(
        text(
            f"SELECT org_id, id FROM {_checked(table)} "  # noqa: S608 (a fixed table name)
            "WHERE (secret NOT LIKE :prefix OR previous_secret NOT LIKE :prefix) "
            "AND (CAST(:after_org AS uuid) IS NULL "
            "OR (org_id, id) > (CAST(:after_org AS uuid), CAST(:after_id AS uuid))) "
            "ORDER BY org_id, id LIMIT :limit"
        ),
        {
            "prefix": f"{STORED_PREFIX}{key_id}.%",
            "after_org": None if after is None else after[0],
            "after_id": None if after is None else after[1],
            "limit": limit,
        },
    )
    return [(org_id, row_id) for org_id, row_id in rows]


async def lock_secrets(
    session: AsyncSession, table: str, key: RowKey
) -> dict[str, str | None] | None:
    """The row's stored secrets by column, locked until the transaction ends (None: gone)."""
    row = (
        await session.execute(
            text(
                f"SELECT {', '.join(SECRET_COLUMNS)} FROM {_checked(table)} "  # noqa: S608
                "WHERE org_id = :org_id AND id = :id FOR UPDATE"
            ),
            {"org_id": key[0], "id": key[1]},
        )
    ).one_or_none()
    return None if row is None else dict(zip(SECRET_COLUMNS, row, strict=True))


async def store_secrets(
    session: AsyncSession, table: str, key: RowKey, values: dict[str, str]
) -> None:
    if not values or not set(values) <= set(SECRET_COLUMNS):
        raise ValueError(f"not secret columns to store: {sorted(values)}")
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    await session.execute(
        text(
            f"UPDATE {_checked(table)} SET {assignments} "  # noqa: S608
            "WHERE org_id = :org_id AND id = :id"
        ),
        {**values, "org_id": key[0], "id": key[1]},
    )


async def count_by_key(session: AsyncSession) -> dict[str, int]:
    """How many stored secrets each key id encrypts, over every secret column."""
    selects = " UNION ALL ".join(
        f"SELECT split_part({column}, '.', 2) AS key_id FROM {table} "  # noqa: S608
        f"WHERE {column} IS NOT NULL"
        for table in SECRET_TABLES
        for column in SECRET_COLUMNS
    )
    rows = await session.execute(
        text(f"SELECT key_id, count(*) FROM ({selects}) s GROUP BY key_id")  # noqa: S608
    )
    return {key_id: int(count) for key_id, count in rows}
