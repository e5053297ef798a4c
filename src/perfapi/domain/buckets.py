"""Series buckets aligned to wall-clock boundaries in an IANA time zone.

A bucket is a maximal run of instants sharing one local calendar unit (day, ISO week,
month, quarter, year); an hour bucket also shares the UTC offset, so the hour repeated
when clocks fall back yields two buckets. A unit whose local start does not exist (the
clocks jump over it) starts at the first existing instant, the end of the jump.

All arithmetic is on UTC instants: Python compares and subtracts datetimes that share a
tzinfo by their wall clock, ignoring ``fold``, which is wrong across a fall-back change.
"""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

_MICROSECOND = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class TooManyBucketsError(ValueError):
    """The range needs more buckets than allowed; ``count`` is how many were reached."""

    def __init__(self, count: int, limit: int | None = None) -> None:
        self.count = count
        self.limit = limit
        # The message reads well inside a sentence: "... too many buckets (more than 10000)".
        super().__init__(f"more than {limit}" if limit is not None else f"at least {count}")


def align_down(t: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    """Start of the bucket containing the aware instant ``t``, as an aware datetime in tz."""
    return _align_down_utc(_to_utc(t), interval, tz).astimezone(tz)


def next_start(start: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    """Start of the bucket after the one that begins at (or contains) ``start``."""
    return _next_utc(_to_utc(start), interval, tz).astimezone(tz)


def buckets(
    start: datetime, end: datetime, interval: Interval, tz: ZoneInfo, limit: int
) -> list[tuple[datetime, datetime]]:
    """Contiguous [start, end) buckets, from align_down(start), covering the range [start, end).

    Raises TooManyBucketsError once more than ``limit`` would be produced.
    """
    first, stop = _to_utc(start), _to_utc(end)
    if first >= stop:
        return []
    current = _align_down_utc(first, interval, tz)
    result: list[tuple[datetime, datetime]] = []
    while current < stop:
        if len(result) >= limit:
            raise TooManyBucketsError(len(result) + 1, limit)
        following = _next_utc(current, interval, tz)
        result.append((current.astimezone(tz), following.astimezone(tz)))
        current = following
    return result


def _to_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("bucket computations need aware datetimes")
    return t.astimezone(UTC)


def _offset(u: datetime, tz: ZoneInfo) -> timedelta:
    offset = u.astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _align_down_utc(u: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    if interval == Interval.HOUR:
        candidate = _hour_start(u, tz)
    else:
        local = u.astimezone(tz).replace(tzinfo=None)
        candidate = _resolve(_unit_start(local.date(), interval), tz, after=None)
    # The candidate is the earliest occurrence of the unit's start. Where clocks move back
    # across a unit boundary a unit can recur; stepping forward keeps align_down
    # consistent with the buckets that next_start enumerates.
    while (following := _next_utc(candidate, interval, tz)) <= u:
        candidate = following
    return candidate


def _next_utc(s: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    if interval == Interval.HOUR:
        return _next_hour(s, tz)
    local = s.astimezone(tz).replace(tzinfo=None)
    wall = _advance(_unit_start(local.date(), interval), interval)
    return _resolve(wall, tz, after=s)


def _hour_start(u: datetime, tz: ZoneInfo) -> datetime:
    local = u.astimezone(tz)
    offset = local.utcoffset()
    assert offset is not None
    wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    candidate = (wall - offset).replace(tzinfo=UTC)
    if _offset(candidate, tz) == offset:
        return candidate
    # The offset changed within this local hour: the bucket starts at the change.
    return _first_with_offset(candidate, u, tz, offset)


def _next_hour(s: datetime, tz: ZoneInfo) -> datetime:
    local = s.astimezone(tz)
    offset = local.utcoffset()
    assert offset is not None
    wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0) + _HOUR
    candidate = (wall - offset).replace(tzinfo=UTC)
    just_before = candidate - _MICROSECOND
    later = _offset(just_before, tz)
    if later == offset:
        return candidate
    # A change of offset inside the hour ends the bucket there (fall back: the
    # repeated hour becomes its own bucket; odd-sized shifts: a partial hour).
    return _first_with_offset(s, just_before, tz, later)


def _first_with_offset(lo: datetime, hi: datetime, tz: ZoneInfo, offset: timedelta) -> datetime:
    """The first instant in (lo, hi] at ``offset``, given one change between lo and hi.

    zoneinfo does not expose its transitions, so bisect down to the microsecond.
    """
    low, high = 0, (hi - lo) // _MICROSECOND
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(lo + middle * _MICROSECOND, tz) == offset:
            high = middle
        else:
            low = middle
    return lo + high * _MICROSECOND


def _resolve(wall: datetime, tz: ZoneInfo, after: datetime | None) -> datetime:
    """The first UTC instant (after ``after``, if given) at which the local clock shows
    ``wall``, or, when clocks jump over ``wall``, the first instant after the jump."""
    occurrences = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall:
            occurrences.append(instant)
    if not occurrences:
        # In a gap, fold=0 reads the wall with the offset before the jump (an instant
        # after it) and fold=1 with the offset after (an instant before it).
        late = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        early = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
        occurrences.append(_first_with_offset(early, late, tz, _offset(late, tz)))
    eligible = [o for o in occurrences if after is None or o > after]
    if not eligible:
        raise ValueError(f"no bucket boundary after {after} in {tz.key}")
    return min(eligible)


def _unit_start(day: date, interval: Interval) -> datetime:
    """Naive local wall-clock start of the day/week/month/quarter/year containing ``day``."""
    if interval == Interval.DAY:
        first = day
    elif interval == Interval.WEEK:
        first = day - timedelta(days=day.weekday())
    elif interval == Interval.MONTH:
        first = day.replace(day=1)
    elif interval == Interval.QUARTER:
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    elif interval == Interval.YEAR:
        first = date(day.year, 1, 1)
    else:
        raise ValueError(f"unknown interval {interval!r}")
    return datetime.combine(first, time())


def _advance(wall: datetime, interval: Interval) -> datetime:
    """The naive wall-clock start of the next unit after the one starting at ``wall``."""
    if interval == Interval.DAY:
        return wall + timedelta(days=1)
    if interval == Interval.WEEK:
        return wall + timedelta(days=7)
    months = {Interval.MONTH: 1, Interval.QUARTER: 3, Interval.YEAR: 12}[interval]
    years, month0 = divmod(wall.month - 1 + months, 12)
    return wall.replace(year=wall.year + years, month=month0 + 1)
