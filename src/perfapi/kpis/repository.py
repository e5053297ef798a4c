from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.conflicts import flush_or_conflict
from perfapi.kit.repository import AnySelect, created_sort_key, keyset_page
from perfapi.models import KeyResult, Kpi, KpiTarget

KEY_TAKEN_CONSTRAINT = "kpis_org_id_key_key"
IN_USE_CONSTRAINT = "key_results_org_id_kpi_id_fkey"


async def get(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, *, for_reference: bool = False
) -> Kpi | None:
    """The KPI, or None; ``for_reference`` as in ``objectives.repository.get``."""
    statement = select(Kpi).where(Kpi.org_id == org_id, Kpi.id == kpi_id)
    if for_reference:
        statement = statement.with_for_update(read=True, key_share=True)
    kpi: Kpi | None = await session.scalar(statement)
    return kpi


async def lock(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> Kpi | None:
    """The KPI, locked until the transaction ends (serialises its target changes)."""
    kpi: Kpi | None = await session.scalar(
        select(Kpi).where(Kpi.org_id == org_id, Kpi.id == kpi_id).with_for_update()
    )
    return kpi


async def save(session: AsyncSession, kpi: Kpi) -> Kpi:
    session.add(kpi)
    await flush_or_conflict(
        session, {KEY_TAKEN_CONSTRAINT: f"A KPI with key {kpi.key!r} already exists."}
    )
    await session.refresh(kpi)
    return kpi


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    *,
    tag: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[Kpi], list[Any] | None]:
    statement = select(Kpi).where(Kpi.org_id == org_id)
    if tag is not None:
        statement = statement.where(Kpi.tags.contains([tag]))
    return await keyset_page(
        session,
        statement,
        order_by=[Kpi.created_at, Kpi.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


async def count_key_results_using(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(KeyResult)
        .where(KeyResult.org_id == org_id, KeyResult.kpi_id == kpi_id)
    )
    return count or 0


async def remove(session: AsyncSession, kpi: Kpi) -> None:
    await session.delete(kpi)
    await flush_or_conflict(
        session, {IN_USE_CONSTRAINT: "Key results read from this KPI; unlink them first."}
    )


async def get_target(session: AsyncSession, org_id: UUID, target_id: UUID) -> KpiTarget | None:
    target: KpiTarget | None = await session.scalar(
        select(KpiTarget).where(KpiTarget.org_id == org_id, KpiTarget.id == target_id)
    )
    return target


async def overlapping_target(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, start: date, end: date
) -> KpiTarget | None:
    target: KpiTarget | None = await session.scalar(
        select(KpiTarget)
        .where(
            KpiTarget.org_id == org_id,
            KpiTarget.kpi_id == kpi_id,
            KpiTarget.period_start <= end,
            KpiTarget.period_end >= start,
        )
        .limit(1)
    )
    return target


async def add_target(session: AsyncSession, target: KpiTarget) -> KpiTarget:
    session.add(target)
    await session.flush()
    await session.refresh(target)
    return target


async def list_targets_page(
    session: AsyncSession,
    org_id: UUID,
    kpi_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[KpiTarget], list[Any] | None]:
    return await keyset_page(
        session,
        select(KpiTarget).where(KpiTarget.org_id == org_id, KpiTarget.kpi_id == kpi_id),
        order_by=[KpiTarget.period_start, KpiTarget.id],
        sort_key=lambda target: [target.period_start, target.id],
        after=after,
        limit=limit,
    )


async def remove_target(session: AsyncSession, org_id: UUID, target_id: UUID) -> bool:
    result = await session.execute(
        delete(KpiTarget)
        .where(KpiTarget.org_id == org_id, KpiTarget.id == target_id)
        .returning(KpiTarget.id)
    )
    return result.first() is not None


async def labels(session: AsyncSession, org_id: UUID) -> list[Row[Any]]:
    """``id``, ``key`` and ``name`` of every KPI of the org, in creation order: plain rows,
    which a report over all of them reads faster than entities."""
    kpis = Kpi.__table__.c
    statement: AnySelect = (
        select(kpis.id, kpis.key, kpis.name)
        .where(kpis.org_id == org_id)
        .order_by(kpis.created_at, kpis.id)
    )
    return list((await session.execute(statement)).all())


async def target_covering(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, day: date
) -> KpiTarget | None:
    target: KpiTarget | None = await session.scalar(
        select(KpiTarget).where(
            KpiTarget.org_id == org_id,
            KpiTarget.kpi_id == kpi_id,
            KpiTarget.period_start <= day,
            KpiTarget.period_end >= day,
        )
    )
    return target


async def target_for_period(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, start: date, end: date
) -> KpiTarget | None:
    target: KpiTarget | None = await session.scalar(
        select(KpiTarget).where(
            KpiTarget.org_id == org_id,
            KpiTarget.kpi_id == kpi_id,
            KpiTarget.period_start == start,
            KpiTarget.period_end == end,
        )
    )
    return target


class KpiFacts(NamedTuple):
    """A KPI as the insights feed reads it, with its target covering the day, if any."""

    id: UUID
    key: str
    name: str
    unit: str | None
    direction: str
    aggregation: str
    period_start: date | None
    period_end: date | None
    target: float | None


async def facts_with_targets(session: AsyncSession, org_id: UUID, day: date) -> list[KpiFacts]:
    """Every KPI of the org, in creation order, with its target whose period holds ``day``
    (targets of one KPI never overlap, so there is at most one)."""
    statement: AnySelect = (
        select(
            Kpi.id,
            Kpi.key,
            Kpi.name,
            Kpi.unit,
            Kpi.direction,
            Kpi.aggregation,
            KpiTarget.period_start,
            KpiTarget.period_end,
            KpiTarget.value,
        )
        .outerjoin(
            KpiTarget,
            (KpiTarget.org_id == Kpi.org_id)
            & (KpiTarget.kpi_id == Kpi.id)
            & (KpiTarget.period_start <= day)
            & (KpiTarget.period_end >= day),
        )
        .where(Kpi.org_id == org_id)
        .order_by(Kpi.created_at, Kpi.id)
    )
    return [KpiFacts._make(row) for row in await session.execute(statement)]
