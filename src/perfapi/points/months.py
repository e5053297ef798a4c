"""UTC months as the partitions of ``points`` cut them: pure arithmetic, no I/O.

A month is one int, ``year * 12 + month - 1``: cheap to hash and to compare, and
consecutive months are consecutive ints. The partition of a month is named
``points_YYYY_MM`` and holds ``[first instant of the month, first of the next)``.
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime

Month = int

PARTITION_NAME = re.compile(r"points_[0-9]{4}_[0-9]{2}")
"""The names perfapi gives the partitions of ``points`` (and migrations leave alone)."""


def not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: the partitions are made and dropped at run time, so
    they are no model's tables and no drift."""
    return not (type_ == "table" and name is not None and PARTITION_NAME.fullmatch(name))


def month_of(instant: datetime) -> Month:
    """The UTC month of an aware instant."""
    utc = instant.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def months_of(instants: Iterable[datetime]) -> set[Month]:
    return {month_of(instant) for instant in instants}


def months_spanned(first: datetime, last: datetime, instants: Iterable[datetime]) -> set[Month]:
    """The months of ``instants``, whose earliest is ``first`` and latest ``last``.

    Usually all of them lie in one month, which the ends tell without a look at the
    rest; otherwise each is looked at (the months between the ends may be empty, and
    a batch spanning centuries must not make a partition of every month between).
    """
    first_month = month_of(first)
    if month_of(last) == first_month:
        return {first_month}
    return months_of(instants)


def start_of(month: Month) -> datetime:
    """The first instant of the month, in UTC."""
    year, index = divmod(month, 12)
    return datetime(year, index + 1, 1, tzinfo=UTC)


def partition_name(month: Month) -> str:
    year, index = divmod(month, 12)
    return f"points_{year:04d}_{index + 1:02d}"


def month_named(name: str) -> Month | None:
    """The month of a partition name perfapi gave (None for any other name)."""
    if not PARTITION_NAME.fullmatch(name):
        return None
    year, month = int(name[7:11]), int(name[12:14])
    return year * 12 + month - 1 if 1 <= month <= 12 else None
