"""Recording events with the changes they announce, and reading them back.

Every write path calls :func:`record` in its own transaction, after the change:
the event commits with it or not at all. ``data`` carries what a consumer needs
to act without a second call: the resource as stored (ids, keys, titles), and for
an update the previous values of the fields that changed.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_json, to_jsonable_python
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.errors import ValidationFailedError
from perfapi.events import repository
from perfapi.events.types import EventType
from perfapi.models import Event

ID_PREFIX = "evt_"


async def record(
    session: AsyncSession, org_id: UUID, type_: EventType, data: Mapping[str, Any]
) -> None:
    await repository.add(session, org_id, type_.value, to_jsonable_python(dict(data)))


def stored(entity: object, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """An entity's stored fields (not its org), as the event carries them."""
    skipped = {"org_id", *leave_out}
    mapper = inspect(type(entity))
    return {
        attribute.key: to_jsonable_python(getattr(entity, attribute.key))
        for attribute in mapper.column_attrs
        if attribute.key not in skipped
    }


def previous(entity: object, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The current values of the fields ``changes`` would change (call before applying)."""
    return {
        name: to_jsonable_python(getattr(entity, name))
        for name, value in changes.items()
        if getattr(entity, name) != value
    }


def event_id(position: int) -> str:
    return f"{ID_PREFIX}{position}"


def as_json(row: Event) -> str:
    """The event as the stream sends it and a webhook delivery's body carries it: the
    JSON `GET /v1/events` lists (timestamps alike), compact."""
    assert row.position is not None  # committed events have their position
    event = {
        "id": event_id(row.position),
        "type": row.type,
        "created_at": row.created_at,
        "data": row.data,
    }
    return to_json(event).decode()


def position_of(value: str, loc: list[str | int]) -> int:
    """The position an event id names; 422 for anything else."""
    digits = value.removeprefix(ID_PREFIX)
    if value.startswith(ID_PREFIX) and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    raise ValidationFailedError.single(
        loc, f"{value[:40]!r} is not an event id (evt_ and digits).", "invalid_event_id"
    )


async def page(
    session: AsyncSession,
    org_id: UUID,
    after: int | None,
    types: Sequence[EventType] | None,
    limit: int,
) -> list[Event]:
    # Only the types this version knows: a row of another version's type is skipped,
    # never a reason for the read to fail.
    wanted = [t.value for t in (types or EventType)]
    return await repository.page(session, org_id, after, wanted, limit)


async def latest_position(session: AsyncSession, org_id: UUID) -> int:
    return await repository.latest_position(session, org_id)


async def prune(
    session: AsyncSession, org_id: UUID, now: datetime, retention: timedelta, batch: int
) -> int:
    return await repository.prune(session, org_id, now - retention, batch)
