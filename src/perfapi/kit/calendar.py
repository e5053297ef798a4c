"""The span of time perfapi accepts: 1900-01-01 to 2999-12-31, in UTC.

Every date and instant that enters through the API lies inside it, so a
computation may step a day, a week or a year past any of them without leaving
Python's datetime range (years 1 to 9999), and a range over all of it is a
bounded amount of work.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
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


CalendarDate = Annotated[date, AfterValidator(_check_date)]
CalendarInstant = Annotated[AwareDatetime, AfterValidator(_check_instant)]
