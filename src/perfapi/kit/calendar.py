"""The span of time perfapi accepts: 1900-01-01 to 2999-12-31, in UTC.

Every date and instant that enters through the API lies inside it, so a
computation may step a day, a week or a year past any of them without leaving
Python's datetime range (years 1 to 9999), and a range over all of it is a
bounded amount of work.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
SPAN = f"between {FIRST_DAY} and {LAST_DAY} (UTC)"
_START = datetime.combine(FIRST_DAY, time(), UTC)
_END = datetime.combine(LAST_DAY + timedelta(days=1), time(), UTC)  # exclusive


def date_supported(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def instant_supported(instant: datetime) -> bool:
    """For aware instants. Compared, not converted: converting year 9999 to UTC can overflow."""
    return _START <= instant < _END


def _check_date(day: date) -> date:
    if not date_supported(day):
        raise PydanticCustomError("date_out_of_range", f"dates must lie {SPAN}")
    return day


def _check_instant(instant: datetime) -> datetime:
    if not instant_supported(instant):
        raise PydanticCustomError("datetime_out_of_range", f"timestamps must lie {SPAN}")
    return instant


# RFC 3339 timestamps: `T` (or `t`), seconds with any fraction, `Z` or +hh:mm, as
# JSON Schema's date-time format has them. Points are decoded by msgspec, which also
# takes a space for the `T` and +hhmm offsets; their timestamps may be written so
# too. One definition for the parsers and for the document's patterns, which add
# the years 1900..2999 as written (an instant a few hours past either end once its
# offset is applied is refused too).
_HOUR, _MINUTE = "([01][0-9]|2[0-3])", "[0-5][0-9]"
_CLOCK = rf"{_HOUR}:{_MINUTE}:{_MINUTE}(\.[0-9]+)?"
_TIME = rf"[Tt]{_CLOCK}([Zz]|[+-]{_HOUR}:{_MINUTE})"
_POINT_TIME = rf"[Tt ]{_CLOCK}([Zz]|[+-]{_HOUR}:?{_MINUTE})"
# Months 01-12 and days 01-31; a 31st in a shorter month is refused past the pattern.
_MONTH_DAY = "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_DATE_SHAPE = re.compile(r"[0-9]{4}" + _MONTH_DAY)
_INSTANT_SHAPE = re.compile(r"[0-9]{4}" + _MONTH_DAY + _TIME)
_POINT_INSTANT_SHAPE = re.compile(r"[0-9]{4}" + _MONTH_DAY + _POINT_TIME)
_YEARS = "(19[0-9]{2}|2[0-9]{3})"
DATE_PATTERN = f"^{_YEARS}{_MONTH_DAY}$"
INSTANT_PATTERN = f"^{_YEARS}{_MONTH_DAY}{_TIME}$"
POINT_INSTANT_PATTERN = f"^{_YEARS}{_MONTH_DAY}{_POINT_TIME}$"
DATE_OR_INSTANT_PATTERN = f"^{_YEARS}{_MONTH_DAY}({_TIME})?$"


def parse_instant(raw: str, *, as_points_do: bool = False) -> datetime | None:
    """An RFC 3339 timestamp with its offset, or None (the calendar is not checked here).

    ``as_points_do`` also takes what the points' fast decoder takes (see above).
    """
    shape = _POINT_INSTANT_SHAPE if as_points_do else _INSTANT_SHAPE
    if not shape.fullmatch(raw):
        return None
    try:
        # fromisoformat knows neither lowercase t/z nor every offset spelling msgspec does.
        return datetime.fromisoformat(raw.upper())
    except ValueError:
        return None


def parse_day(raw: str) -> date | None:
    if not _DATE_SHAPE.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _date_string(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # built in Python (the demo loader), not parsed from JSON
    day = parse_day(value) if isinstance(value, str) else None
    if day is None:
        raise PydanticCustomError("date_type", "a date must be a string such as 2026-01-31")
    return day


def _instant_string(value: object) -> object:
    if isinstance(value, datetime):
        return value
    instant = parse_instant(value) if isinstance(value, str) else None
    if instant is None:
        raise PydanticCustomError(
            "datetime_type",
            "a timestamp must be an RFC 3339 string with offset such as 2026-01-31T09:00:00Z",
        )
    return instant


# JSON has no date type: a number is never taken as one (pydantic's lax mode would
# read 0 as 1970-01-01).
CalendarDate = Annotated[
    date,
    BeforeValidator(_date_string),
    AfterValidator(_check_date),
    Field(json_schema_extra={"pattern": DATE_PATTERN}),
]
CalendarInstant = Annotated[
    AwareDatetime,
    BeforeValidator(_instant_string),
    AfterValidator(_check_instant),
    Field(json_schema_extra={"pattern": INSTANT_PATTERN}),
]
