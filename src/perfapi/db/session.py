"""The per-request session: one transaction per request, committed here and only here."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


READ_METHODS = frozenset(("GET", "HEAD"))

# How a read's transaction starts, on the primary or on a read replica.
READ_SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit after the handler succeeded.

    Used with ``scope="function"`` so the commit runs before the response is sent:
    a failed commit propagates and becomes a 5xx instead of a 2xx already on the wire.

    Reads run in one read-only REPEATABLE READ transaction: every number of a
    report comes from one snapshot, however many statements compute it.
    """
    async with get_sessionmaker(request)() as session:
        if request.method in READ_METHODS:
            await session.connection(execution_options=READ_SNAPSHOT)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
