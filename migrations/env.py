"""Alembic environment, async.

``perfapi migrate`` / ``perfapi serve`` hand over a connection (holding the
migration advisory lock) in ``config.attributes["connection"]``. Run by hand
(``alembic upgrade head``) it connects to ``PERFAPI_DATABASE_URL``.
"""

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from perfapi.config import Settings
from perfapi.models import Base
from perfapi.points.months import not_a_partition

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=not_a_partition,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def _url() -> str:
    url = Settings().database_url
    if url is None:
        raise SystemExit(
            "set PERFAPI_DATABASE_URL, or run `perfapi migrate` for the embedded server"
        )
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (handed_over := config.attributes.get("connection")) is not None:
    _configure_and_run(handed_over)
else:
    asyncio.run(_run_with_url(_url()))
