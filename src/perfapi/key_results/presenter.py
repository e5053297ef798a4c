"""Key results as the API shows them: stored fields plus value and progress on read."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.key_results import schemas
from perfapi.kit.schemas import with_computed
from perfapi.models import KeyResult
from perfapi.reports.values import key_result_values


async def present(
    session: AsyncSession, org_id: UUID, rows: Sequence[KeyResult], as_of: datetime
) -> list[schemas.KeyResult]:
    computed = await key_result_values(session, org_id, rows, as_of)
    return [
        with_computed(
            schemas.KeyResult,
            row,
            current_value=computed[row.id][0],
            progress=computed[row.id][1],
        )
        for row in rows
    ]


async def present_one(
    session: AsyncSession, org_id: UUID, row: KeyResult, as_of: datetime
) -> schemas.KeyResult:
    return (await present(session, org_id, [row], as_of))[0]
