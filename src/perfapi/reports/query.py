"""Parameters of time-based reports: time zone, interval, and a required range."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Query

from perfapi.domain.buckets import Interval, TooManyBucketsError
from perfapi.errors import ValidationFailedError


def _zone(
    tz: Annotated[
        str, Query(description="IANA time zone buckets align to.", examples=["Europe/Berlin"])
    ] = "UTC",
) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailedError.single(
            ["query", "tz"], f"Unknown time zone {tz[:64]!r}; use an IANA name.", "time_zone"
        ) from None


Zone = Annotated[ZoneInfo, Depends(_zone)]

IntervalParam = Annotated[
    Interval, Query(description="Bucket size; weeks are ISO weeks starting on Monday.")
]


@contextmanager
def too_many_buckets_is_422() -> Iterator[None]:
    try:
        yield
    except TooManyBucketsError as exc:
        raise ValidationFailedError.single(
            ["query", "interval"],
            f"The range holds too many buckets ({exc}); use a longer interval or a shorter range.",
            "too_many_buckets",
        ) from None
