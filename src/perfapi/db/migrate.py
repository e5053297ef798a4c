"""Alembic migrations, run under a PostgreSQL advisory lock.

Several servers starting at once against one database queue on the lock: the
first migrates, the others find the schema at head and go on.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Any fixed bigint works; this one spells "perfapi" in ASCII.
MIGRATION_LOCK_KEY = 0x70657266617069


def _script_location() -> Path:
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[1] / "_migrations",  # installed wheel (see pyproject force-include)
        here.parents[3] / "migrations",  # source checkout / editable install
    ):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("perfapi's migrations directory was not found next to the package")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    return config


@asynccontextmanager
async def migration_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Hold the session-level advisory lock on a connection for the block's duration."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await connection.commit()
        try:
            yield connection
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            await connection.commit()


async def upgrade_to_head(connection: AsyncConnection) -> None:
    def upgrade(sync_connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    await connection.run_sync(upgrade)
    await connection.commit()


async def migrate(engine: AsyncEngine) -> None:
    async with migration_lock(engine) as connection:
        await upgrade_to_head(connection)
