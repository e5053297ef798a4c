"""Keeping rollups current, and reading KPI aggregates through them.

Writers of points append to ``rollup_changes`` (cheap, and never contended).
:func:`refresh` recomputes the logged day ranges from raw points, one range scan
each, so its cost follows the points in them; a background task calls it every
few seconds. Reads never wait for it: :func:`aggregate` reads
days with pending changes from raw points, whole clean months and days from
rollups, and partial days at the edges from raw points, so an answer is exact
either way and its cost grows with the length of the range, not with the
number of points.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import EMPTY, Partial, combine
from perfapi.domain.segments import decompose, merge_day_ranges
from perfapi.rollups import repository

REFRESH_BATCH = 500


@dataclass(frozen=True)
class RangeQuery:
    """Points of one KPI in the UTC range [start, end)."""

    kpi_id: UUID
    start: datetime
    end: datetime


async def refresh(session: AsyncSession, org_id: UUID | None = None) -> int:
    """Recompute the rollups of up to REFRESH_BATCH pending changes; return how many.

    Per KPI under an advisory lock taken before reading raw points: a concurrent
    refresh of the same KPI waits and then sees this one's result, so an older
    snapshot can never overwrite a newer one.
    """
    claimed = await repository.claim_changes(session, org_id, REFRESH_BATCH)
    work: dict[tuple[UUID, UUID], list[tuple[date, date]]] = defaultdict(list)
    ids: dict[UUID, list[int]] = defaultdict(list)
    for change_org, change_id, kpi_id, first_day, last_day in claimed:
        work[(change_org, kpi_id)].append((first_day, last_day))
        ids[change_org].append(change_id)
    for (change_org, kpi_id), ranges in sorted(work.items()):
        await repository.lock_kpi_for_recompute(session, change_org, kpi_id)
        for first_day, last_day in merge_day_ranges(ranges):
            await repository.recompute_range(session, change_org, kpi_id, first_day, last_day)
    for change_org, change_ids in ids.items():
        await repository.forget_changes(session, change_org, change_ids)
    return len(claimed)


async def aggregate(
    session: AsyncSession,
    org_id: UUID,
    queries: Sequence[RangeQuery],
    dimensions: Mapping[str, str] | None = None,
) -> list[Partial]:
    """The summary of each query's points, in query order (EMPTY when none)."""
    if not queries:
        return []
    # Pending changes matter only inside the queried ranges.
    window_first = min(query.start for query in queries).astimezone(UTC).date()
    window_last = max(query.end for query in queries).astimezone(UTC).date()
    dirty = await repository.dirty_ranges(
        session, org_id, {query.kpi_id for query in queries}, window_first, window_last
    )
    months: list[tuple[int, UUID, date]] = []
    days: list[tuple[int, UUID, date]] = []
    raw: list[tuple[int, UUID, datetime, datetime]] = []
    for index, query in enumerate(queries):
        if query.start >= query.end:
            continue
        segments = decompose(query.start, query.end, dirty.get(query.kpi_id, ()))
        months += [(index, query.kpi_id, month) for month in segments.months]
        days += [(index, query.kpi_id, day) for day in segments.days]
        raw += [(index, query.kpi_id, start, end) for start, end in segments.raw]
    parts: dict[int, list[Partial]] = defaultdict(list)
    for index, partial in await repository.aggregate_parts(
        session, org_id, months=months, days=days, raw=raw, dimensions=dimensions
    ):
        parts[index].append(partial)
    return [combine(parts[index]) if index in parts else EMPTY for index in range(len(queries))]
