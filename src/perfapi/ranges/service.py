"""Reading KPI aggregates over time ranges through the rollups.

A range is read as whole clean UTC months and days from the rollups and as raw
points at its ragged edges and on days with pending (or parked) changes, so an
answer is exact whether or not the rollups are current, and its cost grows with
the length of the range, not with the number of points. A read is two statements
whatever the number of ranges: the pending changes, then the summaries.

:func:`aggregate` sums each range on its own (series buckets and target periods
share nothing). :func:`aggregate_values` serves reports that read many KPIs over
the overlapping periods of many objectives: it reads every block of months and
days once however many ranges share it (``perfapi.ranges.plan``), and only what
the aggregations need.
"""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import EMPTY, Partial, aggregate_summaries, combine
from perfapi.domain.segments import decompose, merge_day_ranges
from perfapi.ranges import repository
from perfapi.ranges.plan import Range, plan


@dataclass(frozen=True)
class RangeQuery:
    """Points of one KPI in the UTC range [start, end)."""

    kpi_id: UUID
    start: datetime
    end: datetime


class Reading(NamedTuple):
    """One KPI's points aggregated (sum, avg, min, max, last, count) over UTC ranges."""

    aggregation: str
    ranges: Collection[Range]


async def aggregate(
    session: AsyncSession,
    org_id: UUID,
    queries: Sequence[RangeQuery],
    dimensions: Mapping[str, str] | None = None,
) -> list[Partial]:
    """The summary of each query's points, in query order (EMPTY when none)."""
    if not queries:
        return []
    dirty = await _dirty(
        session, org_id, {query.kpi_id for query in queries}, [(q.start, q.end) for q in queries]
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


async def aggregate_values(
    session: AsyncSession, org_id: UUID, readings: Mapping[UUID, Reading]
) -> dict[UUID, dict[Range, float | None]]:
    """Each KPI's aggregation over each of its ranges (None without points)."""
    if not readings:
        return {}
    ranges = {kpi_id: reading.ranges for kpi_id, reading in readings.items()}
    every_range = {query_range for kpi_ranges in ranges.values() for query_range in kpi_ranges}
    read = plan(ranges, await _dirty(session, org_id, ranges.keys(), every_range))
    parts = await repository.value_parts(
        session,
        org_id,
        month_blocks=read.month_blocks,
        day_blocks=read.day_blocks,
        raw=read.raw,
        with_last={kpi_id for kpi_id, reading in readings.items() if reading.aggregation == "last"},
    )
    # Thousands of (KPI, range) pairs: each one's parts with points found in one pass.
    found = parts.get
    values: dict[UUID, dict[Range, float | None]] = {}
    for kpi_id, kpi_parts in read.parts.items():
        aggregation = readings[kpi_id].aggregation
        values[kpi_id] = {
            query_range: aggregate_summaries(
                [part for part in map(found, indices) if part is not None], aggregation
            )
            for query_range, indices in kpi_parts.items()
        }
    return values


async def _dirty(
    session: AsyncSession, org_id: UUID, kpi_ids: Collection[UUID], ranges: Collection[Range]
) -> dict[UUID, list[tuple[date, date]]]:
    """The KPIs' pending changes: only those inside the window the ranges span matter."""
    window_first = min(start for start, _ in ranges).astimezone(UTC).date()
    window_last = max(end for _, end in ranges).astimezone(UTC).date()
    return await repository.dirty_ranges(session, org_id, kpi_ids, window_first, window_last)


async def daily(
    session: AsyncSession,
    org_id: UUID,
    kpis: Mapping[UUID, str],
    first_day: date,
    end_day: date,
    dimensions: Mapping[str, str] | None = None,
) -> dict[UUID, dict[date, float]]:
    """Each KPI's aggregation (``kpis`` maps KPI ids to theirs) per UTC day in
    [first_day, end_day), days without points absent: from the day rollups where they
    are clean, from raw points on days with pending changes. Two statements for any
    number of KPIs and days, so forecasts of every KPI read two years of days at once."""
    found: dict[UUID, dict[date, float]] = {kpi_id: {} for kpi_id in kpis}
    if not kpis or first_day >= end_day:
        return found
    last_day = end_day - timedelta(days=1)
    dirty = await repository.dirty_ranges(session, org_id, kpis, first_day, last_day)
    stale = {kpi_id: merge_day_ranges(spans) for kpi_id, spans in dirty.items()}
    raw = [
        (kpi_id, _midnight(first), _midnight(last + timedelta(days=1)))
        for kpi_id, spans in stale.items()
        for first, last in spans
    ]
    rows = await repository.day_values(
        session, org_id, list(kpis), first_day, end_day, raw, dimensions
    )
    for kpi_id, day, from_raw, count, total, low, high, last in rows:
        # A day with a pending change is read from raw points only.
        if from_raw or not any(first <= day <= end for first, end in stale.get(kpi_id, ())):
            found[kpi_id][day] = day_value(kpis[kpi_id], count, total, low, high, last)
    return found


def day_value(
    aggregation: str, count: int, total: float, low: float, high: float, last: float
) -> float:
    """A day's aggregation from its summary (a day with points, so never None)."""
    if aggregation == "sum":
        return float(total)
    if aggregation == "avg":
        return float(total) / count
    if aggregation == "count":
        return float(count)
    if aggregation == "min":
        return float(low)
    if aggregation == "max":
        return float(high)
    return float(last)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
