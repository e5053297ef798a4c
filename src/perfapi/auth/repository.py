from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import created_sort_key, keyset_page
from perfapi.models import ApiKey

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION_SECONDS = 60


async def find_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    result: ApiKey | None = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    return result


async def get(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey | None:
    result: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id)
    )
    return result


async def get_for_update(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey | None:
    result: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id).with_for_update()
    )
    return result


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return key


async def save(session: AsyncSession, key: ApiKey) -> ApiKey:
    await session.flush()
    await session.refresh(key)
    return key


async def list_page(
    session: AsyncSession, org_id: UUID, *, after: Sequence[Any] | None, limit: int
) -> tuple[list[ApiKey], list[Any] | None]:
    """Newest first."""
    return await keyset_page(
        session,
        select(ApiKey).where(ApiKey.org_id == org_id),
        order_by=[ApiKey.created_at, ApiKey.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
        descending=True,
    )


async def mark_revoked(session: AsyncSession, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = await session.scalar(select(func.now()))
        await session.flush()
    return key


async def touch_last_used(session: AsyncSession, org_id: UUID, key_id: UUID) -> None:
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.org_id == org_id,
            ApiKey.id == key_id,
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at
                < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, LAST_USED_RESOLUTION_SECONDS),
            ),
        )
        .values(last_used_at=func.now())
    )


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    if last_used_at is None:
        return True
    return (now - last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS
