from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import created_sort_key, keyset_page, one_of
from perfapi.models import CheckIn, KeyResult


async def get(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> KeyResult | None:
    key_result: KeyResult | None = await session.scalar(
        select(KeyResult).where(KeyResult.org_id == org_id, KeyResult.id == key_result_id)
    )
    return key_result


async def lock(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> KeyResult | None:
    """The key result, locked so a check-in and a change of its kpi_id cannot interleave."""
    key_result: KeyResult | None = await session.scalar(
        select(KeyResult)
        .where(KeyResult.org_id == org_id, KeyResult.id == key_result_id)
        .with_for_update()
    )
    return key_result


async def save(session: AsyncSession, key_result: KeyResult) -> KeyResult:
    session.add(key_result)
    await session.flush()
    await session.refresh(key_result)
    return key_result


async def remove(session: AsyncSession, key_result: KeyResult) -> None:
    await session.delete(key_result)
    await session.flush()


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    objective_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[KeyResult], list[Any] | None]:
    return await keyset_page(
        session,
        select(KeyResult).where(KeyResult.org_id == org_id, KeyResult.objective_id == objective_id),
        order_by=[KeyResult.created_at, KeyResult.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


async def add_check_in(session: AsyncSession, check_in: CheckIn) -> CheckIn:
    session.add(check_in)
    await session.flush()
    await session.refresh(check_in)
    return check_in


async def get_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> CheckIn | None:
    check_in: CheckIn | None = await session.scalar(
        select(CheckIn).where(CheckIn.org_id == org_id, CheckIn.id == check_in_id)
    )
    return check_in


async def remove_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> bool:
    result = await session.execute(
        delete(CheckIn)
        .where(CheckIn.org_id == org_id, CheckIn.id == check_in_id)
        .returning(CheckIn.id)
    )
    return result.first() is not None


async def list_check_ins_page(
    session: AsyncSession,
    org_id: UUID,
    key_result_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[CheckIn], list[Any] | None]:
    """Oldest first, by the time each value was true."""
    return await keyset_page(
        session,
        select(CheckIn).where(CheckIn.org_id == org_id, CheckIn.key_result_id == key_result_id),
        order_by=[CheckIn.at, CheckIn.id],
        sort_key=lambda check_in: [check_in.at, check_in.id],
        after=after,
        limit=limit,
    )


async def of_objectives(
    session: AsyncSession, org_id: UUID, objective_ids: Sequence[UUID]
) -> list[KeyResult]:
    statement = (
        select(KeyResult)
        .where(KeyResult.org_id == org_id, one_of(KeyResult.objective_id, objective_ids))
        .order_by(KeyResult.created_at, KeyResult.id)
    )
    return list((await session.scalars(statement)).all())


async def latest_check_in_values(
    session: AsyncSession, org_id: UUID, key_result_ids: Sequence[UUID], as_of: datetime
) -> dict[UUID, float]:
    """Each key result's latest check-in value at or before ``as_of``."""
    rows = await session.execute(
        select(CheckIn.key_result_id, CheckIn.value)
        .where(
            CheckIn.org_id == org_id,
            one_of(CheckIn.key_result_id, key_result_ids),
            CheckIn.at <= as_of,
        )
        .order_by(CheckIn.key_result_id, CheckIn.at.desc(), CheckIn.created_at.desc())
        .ext(distinct_on(CheckIn.key_result_id))
    )
    # Not dict(rows): a Result has .keys(), so dict() would take it for a mapping.
    return {key_result_id: value for key_result_id, value in rows}  # noqa: C416


async def kpi_ids_in_use(session: AsyncSession, org_id: UUID) -> list[tuple[UUID, UUID]]:
    """Every (objective_id, kpi_id) of a key result reading a KPI."""
    rows = await session.execute(
        select(KeyResult.objective_id, KeyResult.kpi_id).where(
            KeyResult.org_id == org_id, KeyResult.kpi_id.is_not(None)
        )
    )
    return [(objective_id, kpi_id) for objective_id, kpi_id in rows if kpi_id is not None]
