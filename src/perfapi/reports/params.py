"""Query parameters shared by computed values: ``as_of`` and ``threshold``."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request

from perfapi.errors import ValidationFailedError
from perfapi.kit.calendar import DATE_OR_INSTANT_PATTERN, SPAN
from perfapi.kit.clock import request_time
from perfapi.kit.timerange import UTC_ZONE, parse_bound


def _as_of(
    request: Request,
    as_of: Annotated[
        str | None,
        Query(
            description="Compute as of this instant: an RFC 3339 timestamp with offset, or a "
            "date meaning the end of that day (UTC). Default: now.",
            examples=["2026-06-30", "2026-06-30T12:00:00Z"],
            json_schema_extra={"pattern": DATE_OR_INSTANT_PATTERN},
        ),
    ] = None,
) -> datetime:
    if as_of is None:
        return request_time(request)
    parsed = parse_bound(as_of, UTC_ZONE)
    if parsed is None:
        raise ValidationFailedError.single(
            ["query", "as_of"],
            f"as_of must be a date or an RFC 3339 timestamp with offset, {SPAN}.",
            "as_of",
        )
    if len(as_of) == 10:  # a date: the last instant of that day (still inside the calendar)
        return (parsed + timedelta(days=1) - timedelta(microseconds=1)).astimezone(UTC)
    return parsed


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
