from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import keyset_page
from perfapi.models import AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    resource_type: str | None = None
    resource_id: str | None = None
    actor_id: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


async def add(session: AsyncSession, org_id: UUID, values: dict[str, Any]) -> None:
    await session.execute(insert(AuditEvent).values(org_id=org_id, **values))


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    filters: AuditFilters,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[AuditEvent], list[Any] | None]:
    """Newest first."""
    statement = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if filters.resource_type is not None:
        statement = statement.where(AuditEvent.resource_type == filters.resource_type)
    if filters.resource_id is not None:
        statement = statement.where(AuditEvent.resource_id == filters.resource_id)
    if filters.actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == filters.actor_id)
    if filters.start is not None:
        statement = statement.where(AuditEvent.at >= filters.start)
    if filters.end is not None:
        statement = statement.where(AuditEvent.at < filters.end)
    return await keyset_page(
        session,
        statement,
        order_by=[AuditEvent.at, AuditEvent.id],
        sort_key=lambda row: [row.at, row.id],
        after=after,
        limit=limit,
        descending=True,
    )


async def prune(session: AsyncSession, org_id: UUID, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the org's oldest entries recorded before ``before``."""
    oldest = (
        select(AuditEvent.org_id, AuditEvent.id)
        .where(AuditEvent.org_id == org_id, AuditEvent.at < before)
        .order_by(AuditEvent.at)
        .limit(limit)
        .subquery()
    )
    result = await session.execute(
        delete(AuditEvent).where(AuditEvent.org_id == oldest.c.org_id, AuditEvent.id == oldest.c.id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
