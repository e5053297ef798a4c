"""Splitting a UTC range into stored monthly and daily rollups plus raw-point ranges.

A read over a long range then touches a handful of month rows, some day rows and
raw points only at the ragged edges and on days whose rollup is stale ("dirty").
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Segments:
    months: tuple[date, ...]  # first days of whole UTC months inside the range, none dirty
    days: tuple[date, ...]  # whole UTC days inside the range, not in a listed month, not dirty
    raw: tuple[tuple[datetime, datetime], ...]  # UTC [from, to) to read from raw points


def decompose(start: datetime, end: datetime, dirty_days: frozenset[date]) -> Segments:
    """Partition [start, end) exactly into clean months, clean days and raw ranges.

    Raw ranges are the partial days at the edges and the dirty days, adjacent ones merged.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("decompose needs aware datetimes")
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if lo >= hi:
        raise ValueError("decompose needs start < end")
    first_day = lo.date() if lo == _midnight(lo.date()) else lo.date() + _DAY
    end_day = hi.date()  # exclusive: the day holding ``hi`` is at most partly inside
    if first_day >= end_day:
        return Segments((), (), ((lo, hi),))

    raw: list[tuple[datetime, datetime]] = []
    if lo < _midnight(first_day):
        raw.append((lo, _midnight(first_day)))
    dirty_months = {(d.year, d.month) for d in dirty_days}
    months: list[date] = []
    days: list[date] = []
    month = first_day.replace(day=1)
    # Walk by month so a range of years costs a step per month, and only edge months
    # and months holding a dirty day are expanded day by day.
    while month < end_day:
        following = _next_month(month)
        whole = first_day <= month and following <= end_day
        if whole and (month.year, month.month) not in dirty_months:
            months.append(month)
        else:
            day = max(month, first_day)
            while day < min(following, end_day):
                if day in dirty_days:
                    raw.append((_midnight(day), _midnight(day + _DAY)))
                else:
                    days.append(day)
                day += _DAY
        month = following
    if _midnight(end_day) < hi:
        raw.append((_midnight(end_day), hi))
    return Segments(tuple(months), tuple(days), tuple(_merge(raw)))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Join ranges (sorted, disjoint) that touch, so each run is read with one query."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in ranges:
        if merged and merged[-1][1] == lo:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged
