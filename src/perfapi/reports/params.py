"""Query parameters shared by computed values: ``as_of`` and ``threshold``."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query

from perfapi.errors import ValidationFailedError
from perfapi.kit.calendar import SPAN, date_supported, instant_supported


def _as_of(
    as_of: Annotated[
        str | None,
        Query(
            description="Compute as of this instant: an RFC 3339 timestamp with offset, or a "
            "date meaning the end of that day (UTC). Default: now.",
            examples=["2026-06-30", "2026-06-30T12:00:00Z"],
        ),
    ] = None,
) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    parsed: datetime | None
    try:
        if len(as_of) == 10:
            day = date.fromisoformat(as_of)
            # The end of that day; the check below keeps day + 1 inside datetime's range.
            parsed = None if not date_supported(day) else _end_of(day)
        else:
            parsed = datetime.fromisoformat(as_of)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or not instant_supported(parsed):
        raise ValidationFailedError.single(
            ["query", "as_of"],
            f"as_of must be a date or an RFC 3339 timestamp with offset, {SPAN}.",
            "as_of",
        )
    return parsed


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)


AsOf = Annotated[datetime, Depends(_as_of)]

Threshold = Annotated[
    float,
    Query(
        gt=0,
        le=1,
        description="Progress at or above which an objective counts as achieved, in (0, 1]; "
        "0.7 for Google-style grading.",
    ),
]
