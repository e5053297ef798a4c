"""``from`` / ``to`` query parameters: an RFC 3339 timestamp, or a date meaning its 00:00."""

from datetime import datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query

from perfapi.errors import FieldError, ValidationFailedError
from perfapi.kit.calendar import (
    DATE_OR_INSTANT_PATTERN,
    SPAN,
    instant_supported,
    parse_day,
    parse_instant,
)

UTC_ZONE = ZoneInfo("UTC")

_FROM = Query(
    alias="from",
    description="Inclusive start: an RFC 3339 timestamp with offset, or a date (its 00:00).",
    examples=["2026-01-01", "2026-01-01T00:00:00Z"],
    json_schema_extra={"pattern": DATE_OR_INSTANT_PATTERN},
)
_TO = Query(
    alias="to",
    description="Exclusive end: an RFC 3339 timestamp with offset, or a date (its 00:00).",
    examples=["2027-01-01"],
    json_schema_extra={"pattern": DATE_OR_INSTANT_PATTERN},
)
FromParam = Annotated[str | None, _FROM]
ToParam = Annotated[str | None, _TO]
# Where a range is needed (series, history) or must not be unbounded (deleting points).
RequiredFromParam = Annotated[str, _FROM]
RequiredToParam = Annotated[str, _TO]


def parse_bound(raw: str, tz: ZoneInfo) -> datetime | None:
    """The instant, or None when ``raw`` is neither a date nor a timestamp with offset
    inside the supported calendar."""
    day = parse_day(raw)
    parsed = datetime.combine(day, time(), tz) if day is not None else parse_instant(raw)
    if parsed is None or not instant_supported(parsed):
        return None
    return parsed


def time_range(
    start: str | None, end: str | None, tz: ZoneInfo = UTC_ZONE
) -> tuple[datetime | None, datetime | None]:
    """Parse both bounds, reporting every problem at once; ``from`` must precede ``to``."""
    problems = []
    parsed: dict[str, datetime | None] = {}
    for name, raw in (("from", start), ("to", end)):
        parsed[name] = None if raw is None else parse_bound(raw, tz)
        if raw is not None and parsed[name] is None:
            problems.append(
                FieldError(
                    loc=["query", name],
                    message=f"{name} must be a date or an RFC 3339 timestamp with offset, {SPAN}.",
                    type="invalid_time",
                )
            )
    first, last = parsed["from"], parsed["to"]
    if first is not None and last is not None and first >= last:
        problems.append(
            FieldError(loc=["query", "to"], message="to must be after from.", type="time_order")
        )
    if problems:
        raise ValidationFailedError(problems)
    return first, last


def required_range(start: str, end: str, tz: ZoneInfo = UTC_ZONE) -> tuple[datetime, datetime]:
    """``from`` and ``to`` of required parameters; dates mean 00:00 in ``tz``."""
    first, last = time_range(start, end, tz)
    # Both were given, so both were parsed (or time_range raised).
    assert first is not None
    assert last is not None
    return first, last
