"""SQL of the event log."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.models import Event


async def add(session: AsyncSession, org_id: UUID, type_: str, data: dict[str, Any]) -> None:
    await session.execute(insert(Event).values(org_id=org_id, type=type_, data=data))


async def page(
    session: AsyncSession,
    org_id: UUID,
    after: int | None,
    types: Sequence[str] | None,
    limit: int,
) -> list[Event]:
    """Up to ``limit`` events after position ``after``, oldest first. Only committed
    events are visible, and every one of them has its position."""
    statement = select(Event).where(Event.org_id == org_id, Event.position.is_not(None))
    if after is not None:
        statement = statement.where(Event.position > after)
    if types:
        statement = statement.where(Event.type.in_(types))
    statement = statement.order_by(Event.position).limit(limit)
    return list((await session.scalars(statement)).all())


async def prune(session: AsyncSession, org_id: UUID, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the org's oldest events created before ``before``."""
    oldest = (
        select(Event.org_id, Event.seq)
        .where(Event.org_id == org_id, Event.created_at < before)
        .order_by(Event.created_at)
        .limit(limit)
        .subquery()
    )
    result = await session.execute(
        delete(Event).where(Event.org_id == oldest.c.org_id, Event.seq == oldest.c.seq)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def latest_position(session: AsyncSession, org_id: UUID) -> int:
    """The org's last position (0 before its first event)."""
    found = await session.scalar(select(func.max(Event.position)).where(Event.org_id == org_id))
    return int(found or 0)
