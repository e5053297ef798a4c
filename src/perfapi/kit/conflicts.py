"""Turn constraint violations into 409s.

Uniqueness and references are guaranteed by PostgreSQL constraints, not by
checks before writing, so two concurrent requests cannot both pass. A
violation surfaces at flush; this maps its constraint name to a clear 409.
"""

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.errors import ConflictError


def constraint_name(exc: IntegrityError) -> str | None:
    current: BaseException | None = exc.orig
    while current is not None:
        name = getattr(current, "constraint_name", None)
        if isinstance(name, str):
            return name
        current = current.__cause__
    return None


async def flush_or_conflict(session: AsyncSession, conflicts: Mapping[str, str]) -> None:
    """Flush; a violation of a constraint named in ``conflicts`` becomes a 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        message = conflicts.get(constraint_name(exc) or "")
        if message is None:
            raise
        raise ConflictError(message) from exc
