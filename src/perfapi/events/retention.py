"""Keeping the event log to ``PERFAPI_EVENT_RETENTION_DAYS``: a background task."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.events import service
from perfapi.orgs import repository as orgs

log = logging.getLogger(__name__)

PRUNE_BATCH = 10_000
"""Events deleted per transaction: short ones, so a large backlog never holds locks long."""
PRUNE_EVERY_SECONDS = 600.0


async def prune_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Delete every event older than the retention, org by org, a batch per transaction:
    an org with a large backlog holds no lock long, and one that fails holds up no other."""
    retention = timedelta(days=settings.event_retention_days)
    async with sessionmaker() as session:
        org_ids = [org.id for org in await orgs.list_all(session)]
    total = 0
    for org_id in org_ids:
        try:
            while True:
                async with sessionmaker() as session, session.begin():
                    deleted = await service.prune(session, org_id, now, retention, PRUNE_BATCH)
                total += deleted
                if deleted < PRUNE_BATCH:
                    break
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            log.exception("pruning the event log of org %s failed", org_id)
    return total


async def prune_forever(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while True:
        # Waits first: a server that starts often (tests, a crash loop) need not prune each
        # time, and its first requests do not share the database with a large delete.
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
        try:
            await prune_once(sessionmaker, settings, datetime.now(UTC))
        except Exception as exc:
            # The next round tries again; a failure here never stops the server.
            log.warning("pruning the event log failed", exc_info=not is_database_unavailable(exc))
