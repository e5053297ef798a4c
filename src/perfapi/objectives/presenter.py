"""Objectives as the API shows them: stored fields plus progress computed on read."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.schemas import with_computed
from perfapi.objectives import schemas
from perfapi.reports.values import progress_of


async def present(
    session: AsyncSession,
    org_id: UUID,
    rows: Sequence[Any],
    as_of: datetime,
    threshold: float = 1.0,
) -> list[schemas.Objective]:
    """``rows``: objectives with every stored field, as entities or plain rows."""
    if not rows:
        return []
    scores = await progress_of(session, org_id, [row.id for row in rows], as_of, threshold)
    return [
        with_computed(
            schemas.Objective, row, progress=scores[row.id][0], achieved=scores[row.id][1]
        )
        for row in rows
    ]


async def present_one(
    session: AsyncSession, org_id: UUID, row: Any, as_of: datetime, threshold: float = 1.0
) -> schemas.Objective:
    return (await present(session, org_id, [row], as_of, threshold))[0]
