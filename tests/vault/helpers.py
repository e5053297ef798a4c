"""Helpers of the secrets-at-rest tests: the stored columns, read and written by hand."""

import re
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.vault.keys import Keyring, Place

STORED_FORM = re.compile(r"v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+")
TABLES = ("webhook_sources", "webhook_endpoints")

Sessions = async_sessionmaker[AsyncSession]


async def stored(sessions: Sessions, table: str, row_id: str) -> tuple[str, str | None]:
    """The row's secret and previous_secret columns as the database holds them."""
    assert table in TABLES
    async with sessions() as session:
        row = (
            await session.execute(
                text(f"SELECT secret, previous_secret FROM {table} WHERE id = :id"),  # noqa: S608
                {"id": uuid.UUID(row_id)},
            )
        ).one()
    return row[0], row[1]


async def overwrite(sessions: Sessions, table: str, row_id: str, column: str, value: str) -> None:
    assert table in TABLES
    assert column in ("secret", "previous_secret")
    async with sessions() as session, session.begin():
        await session.execute(
            text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),  # noqa: S608
            {"value": value, "id": uuid.UUID(row_id)},
        )


def tampered(value: str) -> str:
    """One character of the ciphertext changed; still in the stored form."""
    index = len(value) - 3
    return value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]


def opened(
    keyring: Keyring, value: str, table: str, column: str, org_id: uuid.UUID, row_id: str
) -> str:
    return keyring.decrypt(value, Place(table, column, org_id, uuid.UUID(row_id)))
