"""The background task that keeps rollups current while the server runs."""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.db.availability import is_database_unavailable
from perfapi.rollups.service import REFRESH_BATCH, refresh

log = logging.getLogger("perfapi.rollups")


async def refresh_forever(sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Every ``interval`` seconds, work off the pending changes. Cancelled at shutdown."""
    while True:
        try:
            while True:
                async with sessionmaker() as session, session.begin():
                    done = await refresh(session)
                if done < REFRESH_BATCH:
                    break
        except Exception as exc:
            # A failed round is retried next interval; reads stay exact meanwhile.
            log.warning("rollup refresh failed", exc_info=not is_database_unavailable(exc))
        await asyncio.sleep(interval)
