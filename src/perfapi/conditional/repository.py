from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.models import OrgDataVersion


@dataclass(frozen=True)
class DataVersion:
    version: int  # 0: nothing written yet
    dated_until: datetime | None


async def data_version(session: AsyncSession, org_id: UUID) -> DataVersion:
    """The org's data version as of the session's snapshot."""
    row = (
        await session.execute(
            select(OrgDataVersion.version, OrgDataVersion.dated_until).where(
                OrgDataVersion.org_id == org_id
            )
        )
    ).first()
    if row is None:
        return DataVersion(0, None)
    return DataVersion(row.version, row.dated_until)
