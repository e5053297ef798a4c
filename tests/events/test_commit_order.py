"""At commit, every transaction takes its org's data version row before positioning its
events, whichever it wrote first: the evaluator of derived events records events before
anything else, requests change data first, and the two commit side by side."""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.events import service as events
from perfapi.events.types import EventType
from tests.support import Tenant

PATIENCE = 10.0


async def _blocked_by(sessionmaker: async_sessionmaker[AsyncSession], pid: int) -> bool:
    """Whether a session waits for one of ``pid``'s locks (asked in a transaction of its
    own: a transaction sees pg_stat_activity as it was at its first look)."""
    async with sessionmaker() as session:
        waiting = await session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        )
    return bool(waiting)


async def _record(session: AsyncSession, tenant: Tenant, what: str) -> None:
    await events.record(session, tenant.id, EventType.OBJECTIVE_ACHIEVED, {"what": what})


async def test_events_recorded_first_wait_for_the_orgs_row_before_their_position(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """A commit holding the org's data version row (as a request's does, having changed
    data before recording its event) and then positioning its event, beside one that
    recorded its event first: neither waits for the other in a circle, both commit."""
    async with sessionmaker() as session, session.begin():
        await _record(session, tenant, "the org's data version row exists")
    async with sessionmaker() as request, sessionmaker() as evaluator:
        await request.begin()
        await request.execute(
            text("SELECT FROM org_data_versions WHERE org_id = :org FOR UPDATE"),
            {"org": tenant.id},
        )
        request_pid = await request.scalar(text("SELECT pg_backend_pid()"))
        await evaluator.begin()
        await _record(evaluator, tenant, "recorded first")
        committing = asyncio.create_task(evaluator.commit())
        async with asyncio.timeout(PATIENCE):
            # Ask until the evaluator's commit waits for the request's row.
            while not await _blocked_by(sessionmaker, request_pid):
                assert not committing.done(), committing
        # Without the order, the evaluator positioned its event first and holds the org's
        # advisory lock: this commit would wait for it, and PostgreSQL end one of the two.
        await _record(request, tenant, "recorded after a change")
        await asyncio.wait_for(request.commit(), PATIENCE)
        await asyncio.wait_for(committing, PATIENCE)
    async with sessionmaker() as session:
        positioned = await session.execute(
            text(
                "SELECT data->>'what' FROM events WHERE org_id = :org AND position IS NOT NULL "
                "ORDER BY position"
            ),
            {"org": tenant.id},
        )
        assert [what for (what,) in positioned] == [
            "the org's data version row exists",
            "recorded after a change",
            "recorded first",
        ]
