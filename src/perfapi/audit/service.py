"""Recording writes in the audit log, and reading it back.

Every write path calls :func:`record` after its change, in the same transaction:
the entry commits with the change or not at all. The actor is whoever the
request authenticated as (``actor_var``, set by the auth dependency) or the
operator of a CLI command; the request id comes from the request's context.
A write with no actor is a bug (a path that forgot to authenticate, or a script
that did not say who it acts for): it fails instead of being recorded under a
made-up name or not at all.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import repository
from perfapi.audit.actions import Action
from perfapi.audit.changes import without_secrets
from perfapi.audit.repository import AuditFilters
from perfapi.auth.actors import Actor, actor_var
from perfapi.models import AuditEvent
from perfapi.ops.context import request_id_var


class NoActorError(RuntimeError):
    """A write was about to be recorded with nobody to record it for."""


async def record(
    session: AsyncSession,
    org_id: UUID,
    action: Action,
    resource_id: UUID | str | None,
    changes: Mapping[str, Any],
) -> None:
    """Record ``action`` on the resource of its type with this id; ``changes`` is
    ``{field: (old, new)}`` (secrets are dropped here, whoever passed them)."""
    actor = actor_var.get()
    if actor is None:
        raise NoActorError(
            f"{action} has no actor: writes run in an authenticated request or a CLI "
            "command (perfapi.audit.service.acting_as(CLI) outside both)."
        )
    await repository.add(
        session,
        org_id,
        {
            "actor_type": actor.type,
            "actor_id": actor.id,
            "action": action.value,
            "resource_type": action.resource_type.value,
            "resource_id": None if resource_id is None else str(resource_id),
            "changes": to_jsonable_python(without_secrets(changes)),
            "request_id": request_id_var.get(),
        },
    )


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Writes inside the block are recorded as ``actor``'s (CLI commands, tests)."""
    token = actor_var.set(actor)
    try:
        yield
    finally:
        actor_var.reset(token)


async def page(
    session: AsyncSession,
    org_id: UUID,
    filters: AuditFilters,
    *,
    after: list[Any] | None,
    limit: int,
) -> tuple[list[AuditEvent], list[Any] | None]:
    return await repository.list_page(session, org_id, filters, after=after, limit=limit)


async def prune(
    session: AsyncSession, org_id: UUID, now: datetime, retention: timedelta, batch: int
) -> int:
    return await repository.prune(session, org_id, now - retention, batch)
