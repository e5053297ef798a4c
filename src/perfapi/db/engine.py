"""Engine and session factory; the app lifespan and the CLI own their lifetimes."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from perfapi.config import Settings


def create_engine(
    url: str,
    settings: Settings,
    *,
    pre_ping: bool = False,
    connect_timeout: float | None = None,
) -> AsyncEngine:
    """The pool of one database; a read replica's pings what it hands out and gives up
    connecting after ``connect_timeout`` seconds (the driver's default is a minute)."""
    connect_args: dict[str, object] = {"server_settings": {"application_name": "perfapi"}}
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # The primary's pool pings nothing by default: a ping costs a round trip per
        # request. After a database restart a request on a stale connection answers 503
        # once and the pool replaces the connection.
        pool_pre_ping=pre_ping,
        connect_args=connect_args,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: responses are serialized before the
    # commit and nothing is lazily reloaded afterwards.
    return async_sessionmaker(engine, expire_on_commit=False)
