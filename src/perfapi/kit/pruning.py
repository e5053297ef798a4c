"""Deleting what a log keeps no longer, org by org, a batch per transaction.

Shared by the logs with a retention (events, the audit log): an org with a large
backlog holds no lock long, one that fails holds up no other, and several
processes may prune at once (each deletes what is still there).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.db.availability import is_database_unavailable
from perfapi.kit.loops import repeat_forever

log = logging.getLogger(__name__)

PruneBatch = Callable[[AsyncSession, UUID, int], Awaitable[int]]
"""Deletes up to the given number of an org's expired rows; how many it deleted."""


async def prune_each_org(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_ids: Iterable[UUID],
    prune: PruneBatch,
    batch: int,
    what: str,
) -> int:
    total = 0
    for org_id in org_ids:
        try:
            while True:
                async with sessionmaker() as session, session.begin():
                    deleted = await prune(session, org_id, batch)
                total += deleted
                if deleted < batch:
                    break
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            log.exception("pruning %s of org %s failed", what, org_id)
    return total


async def prune_periodically(
    every_seconds: float, prune_round: Callable[[], Awaitable[int]], what: str
) -> None:
    # Waits first: a server that starts often (tests, a crash loop) need not prune each
    # time, and its first requests do not share the database with a large delete.
    await asyncio.sleep(every_seconds)
    await repeat_forever(prune_round, every_seconds, f"pruning {what} failed", log)
