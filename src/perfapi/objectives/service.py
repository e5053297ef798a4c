"""Objective rules: dates in order, parents in the same org, no cycles, no orphans."""

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from perfapi.events import service as events
from perfapi.events.types import EventType
from perfapi.kpis import repository as kpis
from perfapi.models import Objective
from perfapi.objectives import repository
from perfapi.objectives.schemas import ObjectiveCreate, ObjectiveUpdate

OBJECTIVE_NOT_FOUND = "No objective with this id."


async def get(
    session: AsyncSession, org_id: UUID, objective_id: UUID, *, for_reference: bool = False
) -> Objective:
    objective = await repository.get(session, org_id, objective_id, for_reference=for_reference)
    if objective is None:
        raise NotFoundError(OBJECTIVE_NOT_FOUND)
    return objective


async def _problems(
    session: AsyncSession,
    org_id: UUID,
    *,
    objective_id: UUID | None,
    parent_id: UUID | None,
    start_date: date,
    due_date: date,
) -> list[FieldError]:
    problems = []
    if due_date < start_date:
        problems.append(
            FieldError(
                loc=["body", "due_date"],
                message="due_date must not be before start_date.",
                type="date_order",
            )
        )
    if parent_id is not None:
        if await repository.get(session, org_id, parent_id, for_reference=True) is None:
            problems.append(
                FieldError(
                    loc=["body", "parent_id"],
                    message="No objective with this id.",
                    type="not_found",
                )
            )
        elif objective_id is not None and await repository.is_ancestor_or_self(
            session, org_id, objective_id, of=parent_id
        ):
            problems.append(
                FieldError(
                    loc=["body", "parent_id"],
                    message="This parent would make a cycle: it is the objective itself "
                    "or one of its descendants.",
                    type="cycle",
                )
            )
    return problems


async def create(session: AsyncSession, org_id: UUID, body: ObjectiveCreate) -> Objective:
    problems = await _problems(
        session,
        org_id,
        objective_id=None,
        parent_id=body.parent_id,
        start_date=body.start_date,
        due_date=body.due_date,
    )
    if problems:
        raise ValidationFailedError(problems)
    objective = await repository.save(session, Objective(org_id=org_id, **body.model_dump()))
    await events.record(
        session, org_id, EventType.OBJECTIVE_CREATED, {"objective": events.stored(objective)}
    )
    await audit.record(
        session, org_id, Action.OBJECTIVE_CREATED, objective.id, audit_changes.created(objective)
    )
    return objective


async def update(
    session: AsyncSession, org_id: UUID, objective_id: UUID, body: ObjectiveUpdate
) -> Objective:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    moving = "parent_id" in changes
    if moving:
        await repository.lock_tree(session, org_id)
    objective = await get(session, org_id, objective_id)
    problems = await _problems(
        session,
        org_id,
        objective_id=objective_id if moving else None,
        parent_id=changes["parent_id"] if moving else None,
        start_date=changes.get("start_date", objective.start_date),
        due_date=changes.get("due_date", objective.due_date),
    )
    if problems:
        raise ValidationFailedError(problems)
    before = events.previous(objective, changes)
    recorded = audit_changes.snapshot(objective)
    for name, value in changes.items():
        setattr(objective, name, value)
    saved = await repository.save(session, objective)
    await events.record(
        session,
        org_id,
        EventType.OBJECTIVE_UPDATED,
        {"objective": events.stored(saved), "previous": before},
    )
    await audit.record(
        session, org_id, Action.OBJECTIVE_UPDATED, saved.id, audit_changes.updated(recorded, saved)
    )
    return saved


async def delete(session: AsyncSession, org_id: UUID, objective_id: UUID) -> None:
    """Delete an objective with its key results, check-ins and KPI links.

    An objective with children is refused (409): deleting a subtree by accident
    is too easy to do and too hard to undo.
    """
    objective = await get(session, org_id, objective_id)
    if await repository.has_children(session, org_id, objective_id):
        raise ConflictError("The objective has children; delete or move them first.")
    gone = events.stored(objective)
    recorded = audit_changes.snapshot(objective)
    await repository.remove(session, objective)
    await events.record(session, org_id, EventType.OBJECTIVE_DELETED, {"objective": gone})
    await audit.record(
        session, org_id, Action.OBJECTIVE_DELETED, objective_id, audit_changes.deleted(recorded)
    )


async def link_kpi(
    session: AsyncSession, org_id: UUID, objective_id: UUID, kpi_id: UUID, weight: float
) -> tuple[Row[Any], bool]:
    await get(session, org_id, objective_id, for_reference=True)
    if await kpis.get(session, org_id, kpi_id, for_reference=True) is None:
        raise NotFoundError("No KPI with this id.")
    before = await repository.link_weight(session, org_id, objective_id, kpi_id)
    link, created = await repository.upsert_link(session, org_id, objective_id, kpi_id, weight)
    # The KPI names the link, so it is always there: [null, id] when the link is new.
    recorded: audit_changes.Changes = {"kpi_id": (None if created else kpi_id, kpi_id)}
    if created or before != weight:
        recorded["weight"] = (None if created else before, weight)
    await audit.record(session, org_id, Action.OBJECTIVE_KPI_LINKED, objective_id, recorded)
    return link, created


async def unlink_kpi(session: AsyncSession, org_id: UUID, objective_id: UUID, kpi_id: UUID) -> None:
    await get(session, org_id, objective_id)
    weight = await repository.remove_link(session, org_id, objective_id, kpi_id)
    if weight is None:
        raise NotFoundError("This objective is not linked to this KPI.")
    await audit.record(
        session,
        org_id,
        Action.OBJECTIVE_KPI_UNLINKED,
        objective_id,
        {"kpi_id": (kpi_id, None), "weight": (weight, None)},
    )
