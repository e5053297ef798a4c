"""SQL of the evaluator of derived events: marks, last announced states, due orgs."""

from collections.abc import Collection, Iterable, Sequence
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.models import DerivedEventMark, KpiStatusState, ObjectiveProgressState

# The namespace of the per-org advisory locks that serialise evaluations ("drvd").
_LOCK_NAMESPACE = 0x64727664


async def orgs_due(
    session: AsyncSession, limit: int, set_aside: Collection[UUID] = ()
) -> list[UUID]:
    """Orgs whose data changed since they were last evaluated (or never were), but for
    those ``set_aside``: a failing org must not take the place of one that can be done."""
    rows = await session.execute(
        text(
            "SELECT v.org_id FROM org_data_versions v "
            "LEFT JOIN derived_event_marks m ON m.org_id = v.org_id "
            "JOIN orgs o ON o.id = v.org_id "
            "WHERE (m.evaluated_version IS NULL OR m.evaluated_version < v.version) "
            "AND NOT v.org_id = ANY(CAST(:set_aside AS uuid[])) "
            "ORDER BY v.version LIMIT :limit"
        ),
        {"limit": limit, "set_aside": list(set_aside)},
    )
    return [org_id for (org_id,) in rows]


async def lock_org(session: AsyncSession, org_id: UUID) -> None:
    """Held until the transaction ends: one evaluation of an org at a time."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(CAST(:org_id AS text)))"),
        {"namespace": _LOCK_NAMESPACE, "org_id": str(org_id)},
    )


async def evaluated_version(session: AsyncSession, org_id: UUID) -> int | None:
    found: int | None = await session.scalar(
        select(DerivedEventMark.evaluated_version).where(DerivedEventMark.org_id == org_id)
    )
    return found


async def mark(session: AsyncSession, org_id: UUID, version: int) -> None:
    statement = insert(DerivedEventMark).values(org_id=org_id, evaluated_version=version)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id"], set_={"evaluated_version": version}
        )
    )


async def kpi_states(session: AsyncSession, org_id: UUID) -> dict[UUID, KpiStatusState]:
    rows = await session.scalars(select(KpiStatusState).where(KpiStatusState.org_id == org_id))
    return {row.kpi_id: row for row in rows}


async def objective_states(
    session: AsyncSession, org_id: UUID
) -> dict[UUID, ObjectiveProgressState]:
    rows = await session.scalars(
        select(ObjectiveProgressState).where(ObjectiveProgressState.org_id == org_id)
    )
    return {row.objective_id: row for row in rows}


async def forget_kpis(session: AsyncSession, org_id: UUID, kpi_ids: Iterable[UUID]) -> None:
    ids = list(kpi_ids)
    if ids:
        await session.execute(
            delete(KpiStatusState).where(
                KpiStatusState.org_id == org_id, KpiStatusState.kpi_id.in_(ids)
            )
        )


async def save(session: AsyncSession, states: Sequence[object]) -> None:
    for state in states:
        await session.merge(state)
