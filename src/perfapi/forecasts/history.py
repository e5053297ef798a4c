"""A KPI's history as forecasts read it: its aggregation per complete bucket before as_of.

Buckets are whole (a bucket still open at as_of is not history: it is forecast
whole). History starts at the first bucket with data, at most :data:`MAX_HISTORY`
buckets back. An empty bucket inside it counts as 0 for `sum` and `count` (nothing
happened) and repeats the bucket before it for the other aggregations (nothing was
measured, so the last measure stands).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import aggregate
from perfapi.domain.buckets import Interval, align_down, buckets, next_start
from perfapi.ranges.service import RangeQuery, daily
from perfapi.ranges.service import aggregate as aggregate_ranges


class ForecastInterval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


SEASON_LENGTH = {ForecastInterval.DAY: 7, ForecastInterval.WEEK: 52, ForecastInterval.MONTH: 12}
"""A week of days, a year of weeks or of months: the seasons a seasonal model looks for."""

MAX_HISTORY = {ForecastInterval.DAY: 730, ForecastInterval.WEEK: 156, ForecastInterval.MONTH: 120}
"""Two years of days, three of weeks, ten of months: older buckets say little about next."""

_EMPTY_IS_ZERO = frozenset(("sum", "count"))


class KpiRef(Protocol):
    """A KPI as far as its history goes: a Kpi entity, or a row naming both."""

    @property
    def id(self) -> UUID: ...
    @property
    def aggregation(self) -> str: ...


@dataclass(frozen=True)
class History:
    starts: list[datetime]  # of each bucket, oldest first
    values: list[float]
    end: datetime  # the start of the bucket holding as_of: the first one forecast
    # Per bucket: it holds a value of its own (points, or a sum or count of none), not
    # one carried from the bucket before.
    measured: list[bool] = field(default_factory=list)


async def history_before(
    session: AsyncSession,
    org_id: UUID,
    kpi: KpiRef,
    *,
    interval: ForecastInterval,
    tz: ZoneInfo,
    before: datetime,
    dimensions: Mapping[str, str],
) -> History:
    """The complete buckets that end at or before ``before`` (the bucket holding it is not)."""
    found = await histories_before(
        session, org_id, [kpi], interval=interval, tz=tz, before=before, dimensions=dimensions
    )
    return found[kpi.id]


async def histories_before(
    session: AsyncSession,
    org_id: UUID,
    kpis: Sequence[KpiRef],
    *,
    interval: ForecastInterval,
    tz: ZoneInfo,
    before: datetime,
    dimensions: Mapping[str, str],
) -> dict[UUID, History]:
    """:func:`history_before` of each of these KPIs, read together (two statements)."""
    end = history_end(before, interval, tz)
    bucket = Interval(interval.value)
    start = _back(end, interval, tz)
    # Whole buckets (both ends are bucket starts), the last MAX_HISTORY of them.
    bounds = buckets(start, end, bucket, tz, 2 * MAX_HISTORY[interval])[-MAX_HISTORY[interval] :]
    if interval is ForecastInterval.DAY and tz.key == "UTC":
        # Days of UTC are the day rollups': read per day, not as a range per bucket.
        starts = [start for start, _ in bounds]
        per_day = await daily(
            session,
            org_id,
            {kpi.id: kpi.aggregation for kpi in kpis},
            starts[0].date(),
            end.date(),
            dimensions,
        )
        histories = {}
        for kpi in kpis:
            days = per_day[kpi.id]
            first = min(days, default=None)
            if first is None:
                histories[kpi.id] = History([], [], end)
                continue
            kept = [start for start in starts if start.date() >= first]
            values = [days.get(start.date()) for start in kept]
            histories[kpi.id] = _history(kpi.aggregation, kept, values, end)
        return histories
    utc_bounds = [(first.astimezone(UTC), last.astimezone(UTC)) for first, last in bounds]
    partials = await aggregate_ranges(
        session,
        org_id,
        [RangeQuery(kpi.id, first, last) for kpi in kpis for first, last in utc_bounds],
        dimensions or None,
    )
    width = len(bounds)
    return {
        kpi.id: _history(
            kpi.aggregation,
            [start for start, _ in bounds],
            [
                aggregate(partial, kpi.aggregation)
                for partial in partials[i * width : (i + 1) * width]
            ],
            end,
        )
        for i, kpi in enumerate(kpis)
    }


def history_end(before: datetime, interval: ForecastInterval, tz: ZoneInfo) -> datetime:
    """The start of the bucket holding ``before``: where the history ends."""
    return align_down(before, Interval(interval.value), tz)


def _history(
    aggregation: str, starts: Sequence[datetime], measured: Sequence[float | None], end: datetime
) -> History:
    first_data = next((i for i, value in enumerate(measured) if value is not None), None)
    if first_data is None:
        return History([], [], end)
    values: list[float] = []
    for value in measured[first_data:]:
        if value is None:
            value = 0.0 if aggregation in _EMPTY_IS_ZERO else values[-1]
        values.append(value)
    # A sum or count of nothing is a value measured like any other: 0.
    had = [aggregation in _EMPTY_IS_ZERO or value is not None for value in measured[first_data:]]
    return History(list(starts[first_data:]), values, end, had)


def following_starts(
    end: datetime, interval: ForecastInterval, tz: ZoneInfo, count: int
) -> list[datetime]:
    """The starts of ``count`` buckets from ``end`` (itself a bucket start) on."""
    bucket = Interval(interval.value)
    starts = [end]
    while len(starts) < count:
        starts.append(next_start(starts[-1], bucket, tz))
    return starts


def _back(end: datetime, interval: ForecastInterval, tz: ZoneInfo) -> datetime:
    """A bucket start at least MAX_HISTORY buckets before ``end`` (a bucket start)."""
    local = end.astimezone(tz).date()
    count = MAX_HISTORY[interval]
    if interval is ForecastInterval.MONTH:
        months = local.year * 12 + local.month - 1 - count
        first = local.replace(year=months // 12, month=months % 12 + 1, day=1)
    else:
        first = local - timedelta(days=count * (7 if interval is ForecastInterval.WEEK else 1))
    # Calendar arithmetic in local dates, then aligned: daylight-saving changes cannot
    # shift it by an hour into the wrong bucket.
    return align_down(datetime.combine(first, time(12), tz), Interval(interval.value), tz)
