"""Engine and session factory; the app lifespan and the CLI own their lifetimes."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from perfapi.config import Settings


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No ping before every checkout: it costs a round trip per request. After a
        # database restart a request on a stale connection answers 503 once and the
        # pool replaces the connection.
        pool_pre_ping=False,
        connect_args={"server_settings": {"application_name": "perfapi"}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: responses are serialized before the
    # commit and nothing is lazily reloaded afterwards.
    return async_sessionmaker(engine, expire_on_commit=False)
