"""Keeping the audit log to ``PERFAPI_AUDIT_RETENTION_DAYS``: a background task."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.audit import service
from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.orgs import repository as orgs

log = logging.getLogger(__name__)

PRUNE_BATCH = 10_000
"""Entries deleted per transaction: short ones, so a large backlog never holds locks long."""
PRUNE_EVERY_SECONDS = 3600.0
"""Hourly: entries are kept for days, so an hour more or less does not matter."""


async def prune_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Delete every entry older than the retention, org by org, a batch per transaction:
    an org with a large backlog holds no lock long, and one that fails holds up no other.
    Several processes may prune at once: each deletes what is still there."""
    retention = timedelta(days=settings.audit_retention_days)
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
            log.exception("pruning the audit log of org %s failed", org_id)
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
            log.warning("pruning the audit log failed", exc_info=not is_database_unavailable(exc))
