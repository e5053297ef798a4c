"""Key result rules: what each direction needs, KPIs from the same org, and
check-ins only where the value is not read from a KPI."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from perfapi.events import service as events
from perfapi.events.types import EventType
from perfapi.key_results import repository
from perfapi.key_results.schemas import (
    DIRECTION_FIELDS,
    VALUE_FIELDS,
    CheckInCreate,
    KeyResultCreate,
    KeyResultDirection,
    KeyResultUpdate,
)
from perfapi.kpis import repository as kpis
from perfapi.models import CheckIn, KeyResult
from perfapi.objectives import service as objectives

KEY_RESULT_NOT_FOUND = "No key result with this id."
_VALUE_FIELDS = ("direction", "start_value", "target_value", "range_min", "range_max")


def _problem(field: str, message: str, type_: str) -> FieldError:
    return FieldError(loc=["body", field], message=message, type=type_)


def direction_problems(values: dict[str, Any]) -> list[FieldError]:
    """What is missing or inconsistent for the key result's direction."""
    direction = KeyResultDirection(values["direction"])
    start, target = values.get("start_value"), values.get("target_value")
    low, high = values.get("range_min"), values.get("range_max")
    problems = []
    if direction in (KeyResultDirection.INCREASE, KeyResultDirection.DECREASE):
        for field, value in (("start_value", start), ("target_value", target)):
            if value is None:
                problems.append(_problem(field, f"{direction} needs {field}.", "missing"))
        if start is not None and target is not None:
            if direction is KeyResultDirection.INCREASE and not target > start:
                problems.append(
                    _problem("target_value", "increase needs target_value > start_value.", "order")
                )
            if direction is KeyResultDirection.DECREASE and not target < start:
                problems.append(
                    _problem("target_value", "decrease needs target_value < start_value.", "order")
                )
    elif direction in (KeyResultDirection.AT_LEAST, KeyResultDirection.AT_MOST):
        if target is None:
            problems.append(_problem("target_value", f"{direction} needs target_value.", "missing"))
    else:
        for field, value in (("range_min", low), ("range_max", high)):
            if value is None:
                problems.append(_problem(field, f"within needs {field}.", "missing"))
        if low is not None and high is not None and low > high:
            problems.append(_problem("range_max", "within needs range_min <= range_max.", "order"))
    return problems


async def _problems(
    session: AsyncSession, org_id: UUID, values: dict[str, Any]
) -> list[FieldError]:
    problems = direction_problems(values)
    kpi_id = values.get("kpi_id")
    if kpi_id is not None and await kpis.get(session, org_id, kpi_id, for_reference=True) is None:
        problems.append(_problem("kpi_id", "No KPI with this id.", "not_found"))
    return problems


async def get(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> KeyResult:
    key_result = await repository.get(session, org_id, key_result_id)
    if key_result is None:
        raise NotFoundError(KEY_RESULT_NOT_FOUND)
    return key_result


def unused_value_problems(values: dict[str, Any]) -> list[FieldError]:
    """Value fields sent that the direction does not use, as its create schema says.

    Only on create: a PATCH that changes the direction keeps the stored values.
    """
    required, optional = DIRECTION_FIELDS[KeyResultDirection(values["direction"])]
    return [
        _problem(field, f"{values['direction']} does not use {field}.", "extra_forbidden")
        for field in VALUE_FIELDS
        if values.get(field) is not None and field not in required + optional
    ]


async def create(
    session: AsyncSession, org_id: UUID, objective_id: UUID, body: KeyResultCreate
) -> KeyResult:
    await objectives.get(session, org_id, objective_id, for_reference=True)
    values = body.model_dump()
    problems = unused_value_problems(values) + await _problems(session, org_id, values)
    if problems:
        raise ValidationFailedError(problems)
    key_result = await repository.save(
        session, KeyResult(org_id=org_id, objective_id=objective_id, **values)
    )
    await events.record(
        session, org_id, EventType.KEY_RESULT_CREATED, {"key_result": events.stored(key_result)}
    )
    await audit.record(
        session, org_id, Action.KEY_RESULT_CREATED, key_result.id, audit_changes.created(key_result)
    )
    return key_result


async def update(
    session: AsyncSession, org_id: UUID, key_result_id: UUID, body: KeyResultUpdate
) -> KeyResult:
    key_result = await repository.lock(session, org_id, key_result_id)
    if key_result is None:
        raise NotFoundError(KEY_RESULT_NOT_FOUND)
    changes = body.model_dump(exclude_unset=True)
    merged = {
        field: changes.get(field, getattr(key_result, field))
        for field in (*_VALUE_FIELDS, "kpi_id")
    }
    if "kpi_id" not in changes:
        merged.pop("kpi_id")  # unchanged: no need to look the KPI up again
    problems = await _problems(session, org_id, merged)
    if problems:
        raise ValidationFailedError(problems)
    before = events.previous(key_result, changes)
    recorded = audit_changes.snapshot(key_result)
    for name, value in changes.items():
        setattr(key_result, name, value)
    saved = await repository.save(session, key_result)
    await events.record(
        session,
        org_id,
        EventType.KEY_RESULT_UPDATED,
        {"key_result": events.stored(saved), "previous": before},
    )
    await audit.record(
        session, org_id, Action.KEY_RESULT_UPDATED, saved.id, audit_changes.updated(recorded, saved)
    )
    return saved


async def delete(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> None:
    key_result = await get(session, org_id, key_result_id)
    gone = events.stored(key_result)
    recorded = audit_changes.snapshot(key_result)
    await repository.remove(session, key_result)
    await events.record(session, org_id, EventType.KEY_RESULT_DELETED, {"key_result": gone})
    await audit.record(
        session, org_id, Action.KEY_RESULT_DELETED, key_result_id, audit_changes.deleted(recorded)
    )


async def check_in(
    session: AsyncSession, org_id: UUID, key_result_id: UUID, body: CheckInCreate
) -> CheckIn:
    key_result = await repository.lock(session, org_id, key_result_id)
    if key_result is None:
        raise NotFoundError(KEY_RESULT_NOT_FOUND)
    if key_result.kpi_id is not None:
        raise ConflictError(
            "This key result reads its value from a KPI; send points to the KPI instead."
        )
    made = await repository.add_check_in(
        session,
        CheckIn(
            org_id=org_id,
            key_result_id=key_result_id,
            value=body.value,
            at=body.at or datetime.now(UTC),
            note=body.note,
            confidence=body.confidence,
        ),
    )
    await events.record(
        session,
        org_id,
        EventType.CHECK_IN_CREATED,
        {
            "check_in": events.stored(made),
            "key_result": {
                "id": key_result.id,
                "objective_id": key_result.objective_id,
                "title": key_result.title,
            },
        },
    )
    await audit.record(
        session, org_id, Action.CHECK_IN_CREATED, made.id, audit_changes.created(made)
    )
    return made


async def get_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> CheckIn:
    found = await repository.get_check_in(session, org_id, check_in_id)
    if found is None:
        raise NotFoundError("No check-in with this id.")
    return found


async def delete_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> None:
    recorded = audit_changes.snapshot(await get_check_in(session, org_id, check_in_id))
    if not await repository.remove_check_in(session, org_id, check_in_id):
        raise NotFoundError("No check-in with this id.")
    await audit.record(
        session, org_id, Action.CHECK_IN_DELETED, check_in_id, audit_changes.deleted(recorded)
    )
