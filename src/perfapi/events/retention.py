"""Keeping the event log to ``PERFAPI_EVENT_RETENTION_DAYS``: a background task."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.events import service
from perfapi.kit.pruning import prune_each_org, prune_periodically
from perfapi.orgs import repository as orgs

PRUNE_BATCH = 10_000
"""Events deleted per transaction: short ones, so a large backlog never holds locks long."""
PRUNE_EVERY_SECONDS = 600.0


async def prune_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Delete everything older than the retention; how much."""
    retention = timedelta(days=settings.event_retention_days)

    async def batch(session: AsyncSession, org_id: UUID, limit: int) -> int:
        return await service.prune(session, org_id, now, retention, limit)

    async with sessionmaker() as session:
        org_ids = [org.id for org in await orgs.list_all(session)]
    return await prune_each_org(sessionmaker, org_ids, batch, PRUNE_BATCH, "the event log")


async def prune_forever(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async def prune_round() -> int:
        return await prune_once(sessionmaker, settings, datetime.now(UTC))

    await prune_periodically(PRUNE_EVERY_SECONDS, prune_round, "the event log")
