"""A webhook sender's round, driven by a test at a time it chooses."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.webhook_endpoints.delivery import fan_out_and_claim
from perfapi.webhook_endpoints.repository import Claimed


async def due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    limit: int = 100,
) -> list[Claimed]:
    """Fan the new events out, then claim what is due at ``now``."""
    claimed, _ = await fan_out_and_claim(sessionmaker, settings, now, limit)
    return claimed
