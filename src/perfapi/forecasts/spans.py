"""A target or due period seen from as_of: what is known of it and what is still to come."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from perfapi.domain.attainment import period_bounds


@dataclass(frozen=True)
class Span:
    """A period seen from as_of: its complete days so far and the days still to come."""

    begin: datetime  # the period's first instant
    known_until: datetime  # the end of its complete days so far
    days_so_far: int
    gap: int  # days between as_of's day and a period that starts later
    ahead: int  # days still to come, the one holding as_of included

    @classmethod
    def of(cls, period_start: date, period_end: date, as_of: datetime) -> "Span":
        begin, end = period_bounds(period_start, period_end)
        today = datetime.combine(as_of.astimezone(UTC).date(), time(), UTC)
        known_until = min(max(today, begin), end)
        return cls(
            begin,
            known_until,
            (known_until - begin).days,
            max((begin - today).days, 0),
            (end - known_until).days,
        )
