"""KPI and target rules that sit between the endpoints and the repository."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from perfapi.events import service as events
from perfapi.events.types import EventType
from perfapi.kpis import repository
from perfapi.kpis.schemas import KpiCreate, KpiTargetCreate, KpiUpdate
from perfapi.models import Kpi, KpiTarget
from perfapi.points import repository as points
from perfapi.rollups import repository as rollups

KPI_NOT_FOUND = "No KPI with this id."


async def get(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> Kpi:
    kpi = await repository.get(session, org_id, kpi_id)
    if kpi is None:
        raise NotFoundError(KPI_NOT_FOUND)
    return kpi


async def create(session: AsyncSession, org_id: UUID, body: KpiCreate) -> Kpi:
    kpi = await repository.save(session, Kpi(org_id=org_id, **body.model_dump()))
    await events.record(session, org_id, EventType.KPI_CREATED, {"kpi": events.stored(kpi)})
    await audit.record(session, org_id, Action.KPI_CREATED, kpi.id, audit_changes.created(kpi))
    return kpi


async def update(session: AsyncSession, org_id: UUID, kpi_id: UUID, body: KpiUpdate) -> Kpi:
    kpi = await get(session, org_id, kpi_id)
    changes = body.model_dump(exclude_unset=True)
    before = events.previous(kpi, changes)
    recorded = audit_changes.snapshot(kpi)
    for name, value in changes.items():
        setattr(kpi, name, value)
    saved = await repository.save(session, kpi)
    await events.record(
        session, org_id, EventType.KPI_UPDATED, {"kpi": events.stored(saved), "previous": before}
    )
    await audit.record(
        session, org_id, Action.KPI_UPDATED, saved.id, audit_changes.updated(recorded, saved)
    )
    return saved


async def delete(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> None:
    """Delete a KPI with its points, targets and objective links.

    Refused while key results read from it. Points have no foreign key (see
    models.point), so they are deleted here.
    """
    # Locked first: an upload holding the KPI finishes before its points are deleted.
    kpi = await repository.lock(session, org_id, kpi_id)
    if kpi is None:
        raise NotFoundError(KPI_NOT_FOUND)
    users = await repository.count_key_results_using(session, org_id, kpi_id)
    if users:
        raise ConflictError(
            f"{users} key result(s) read from this KPI; delete them or clear their kpi_id first."
        )
    gone = events.stored(kpi)
    recorded = audit_changes.snapshot(kpi)
    await points.delete_all_of_kpi(session, org_id, kpi_id)
    await rollups.delete_kpi_rollups(session, org_id, kpi_id)
    await repository.remove(session, kpi)
    await events.record(session, org_id, EventType.KPI_DELETED, {"kpi": gone})
    await audit.record(session, org_id, Action.KPI_DELETED, kpi_id, audit_changes.deleted(recorded))


async def add_target(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, body: KpiTargetCreate
) -> KpiTarget:
    if body.period_end < body.period_start:
        raise ValidationFailedError(
            [
                FieldError(
                    loc=["body", "period_end"],
                    message="period_end must not be before period_start.",
                    type="period_order",
                )
            ]
        )
    # Locking the KPI serialises target writes per KPI, so two concurrent requests
    # cannot both find the period free.
    if await repository.lock(session, org_id, kpi_id) is None:
        raise NotFoundError(KPI_NOT_FOUND)
    clash = await repository.overlapping_target(
        session, org_id, kpi_id, body.period_start, body.period_end
    )
    if clash is not None:
        raise ConflictError(
            f"The period overlaps target {clash.id} "
            f"({clash.period_start.isoformat()} to {clash.period_end.isoformat()})."
        )
    target = await repository.add_target(
        session, KpiTarget(org_id=org_id, kpi_id=kpi_id, **body.model_dump())
    )
    await audit.record(
        session, org_id, Action.KPI_TARGET_CREATED, target.id, audit_changes.created(target)
    )
    return target


async def get_target(session: AsyncSession, org_id: UUID, target_id: UUID) -> KpiTarget:
    target = await repository.get_target(session, org_id, target_id)
    if target is None:
        raise NotFoundError("No KPI target with this id.")
    return target


async def delete_target(session: AsyncSession, org_id: UUID, target_id: UUID) -> None:
    recorded = audit_changes.snapshot(await get_target(session, org_id, target_id))
    if not await repository.remove_target(session, org_id, target_id):
        raise NotFoundError("No KPI target with this id.")
    await audit.record(
        session, org_id, Action.KPI_TARGET_DELETED, target_id, audit_changes.deleted(recorded)
    )
