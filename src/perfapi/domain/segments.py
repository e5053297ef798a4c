"""Splitting a UTC range into stored monthly and daily rollups plus raw-point ranges.

A read over a long range then touches a handful of month rows, some day rows and
raw points only at the ragged edges and on days whose rollup is stale ("dirty").
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Segments:
    months: tuple[date, ...]  # first days of whole UTC months inside the range, none dirty
    days: tuple[date, ...]  # whole UTC days inside the range, not in a listed month, not dirty
    raw: tuple[tuple[datetime, datetime], ...]  # UTC [from, to) to read from raw points


def decompose(start: datetime, end: datetime, dirty: Iterable[tuple[date, date]] = ()) -> Segments:
    """Partition [start, end) exactly into clean months, clean days and raw ranges.

    ``dirty`` holds inclusive UTC day ranges whose rollups may be stale. Raw ranges
    are the partial days at the edges and the dirty spans, adjacent ones merged.
    The work follows the number of months and dirty ranges, not of days: a dirty
    span of centuries is one raw range.
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
    months: list[date] = []
    days: list[date] = []
    clean_from = first_day
    for dirty_first, dirty_last in merge_day_ranges(dirty):
        span_start = max(dirty_first, first_day)
        span_end = end_day if dirty_last >= end_day else min(dirty_last + _DAY, end_day)
        if span_start >= span_end:
            continue
        _split_clean(clean_from, span_start, months, days)
        raw.append((_midnight(span_start), _midnight(span_end)))
        clean_from = span_end
    _split_clean(clean_from, end_day, months, days)
    if _midnight(end_day) < hi:
        raw.append((_midnight(end_day), hi))
    return Segments(tuple(months), tuple(days), tuple(_merge(raw)))


def _split_clean(first: date, end: date, months: list[date], days: list[date]) -> None:
    """Append the clean days [first, end) as whole months where they fit, else as days."""
    day = first
    while day < end:
        if day.day == 1 and (following := _next_month(day)) <= end:
            months.append(day)
            day = following
        else:
            days.append(day)
            day += _DAY


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


def merge_day_ranges(ranges: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Inclusive day ranges, overlapping or adjacent ones joined, in order."""
    merged: list[tuple[date, date]] = []
    for first, last in sorted(ranges):
        if first > last:
            raise ValueError(f"a day range must not end before it starts: {first} > {last}")
        if merged and (first - merged[-1][1]).days <= 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
