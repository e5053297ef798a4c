"""The session of reads routed to the replica: reports, series, forecasts, insights."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.db.session import READ_METHODS, DbSession
from perfapi.replicas.replica import ReadReplica


async def get_read_session(request: Request, primary: DbSession) -> AsyncIterator[AsyncSession]:
    """A read-only REPEATABLE READ session on the replica while it keeps up; else the
    request's own session on the primary (the same snapshot rules), and with no
    replica configured, just that one: no second connection.

    Authentication never comes here: it reads the primary, so a revoked key stops
    working at once, however far behind the replica is.
    """
    replica: ReadReplica | None = request.app.state.read_replica
    session = None
    if replica is not None and request.method in READ_METHODS:
        session = await replica.session_for_read()
    if replica is None or session is None:
        yield primary
        return
    async with session:
        try:
            yield session
        except BaseException as exc:
            replica.failed(exc)
            await session.rollback()
            raise
        else:
            await session.commit()


ReadReplicaSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
