import itertools
import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfapi.domain.buckets import (
    Interval,
    TooManyBucketsError,
    align_down,
    buckets,
    next_start,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def z(text: str) -> datetime:
    """An instant from an RFC 3339 string ('Z' allowed)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc(pairs: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    # Compare instants in UTC: datetimes sharing a ZoneInfo compare by wall clock.
    return [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in pairs]


def test_utc_days() -> None:
    got = buckets(z("2026-01-30T12:00Z"), z("2026-02-02T00:00Z"), Interval.DAY, UTC_ZONE, 10)
    assert utc(got) == [
        (z("2026-01-30T00:00Z"), z("2026-01-31T00:00Z")),
        (z("2026-01-31T00:00Z"), z("2026-02-01T00:00Z")),
        (z("2026-02-01T00:00Z"), z("2026-02-02T00:00Z")),
    ]
    assert got[0][0].tzinfo is UTC_ZONE


def test_berlin_spring_forward_day_is_23_hours() -> None:
    [(start, end)] = buckets(
        z("2026-03-29T00:00+01:00"), z("2026-03-29T12:00+02:00"), Interval.DAY, BERLIN, 10
    )
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        z("2026-03-28T23:00Z"),
        z("2026-03-29T22:00Z"),
    )
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    )


def test_berlin_fall_back_day_is_25_hours() -> None:
    noon = z("2026-10-25T12:00+01:00")
    start = align_down(noon, Interval.DAY, BERLIN)
    end = next_start(start, Interval.DAY, BERLIN)
    assert start.astimezone(UTC) == z("2026-10-24T22:00Z")
    assert end.astimezone(UTC) == z("2026-10-25T23:00Z")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


def test_berlin_hours_skip_the_missing_hour() -> None:
    got = buckets(z("2026-03-28T23:00Z"), z("2026-03-29T02:00Z"), Interval.HOUR, BERLIN, 10)
    assert [a.isoformat() for a, _ in got] == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]


def test_new_york_repeated_hour_is_two_buckets() -> None:
    got = buckets(z("2026-11-01T04:00Z"), z("2026-11-01T08:00Z"), Interval.HOUR, NEW_YORK, 10)
    assert [a.isoformat() for a, _ in got] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    assert all(b.astimezone(UTC) - a.astimezone(UTC) == timedelta(hours=1) for a, b in got)
    # An instant in the second 01:xx belongs to the second bucket.
    second = align_down(z("2026-11-01T01:30-05:00"), Interval.HOUR, NEW_YORK)
    assert second.astimezone(UTC) == z("2026-11-01T06:00Z")


def test_new_york_month() -> None:
    start = align_down(z("2026-03-15T12:00-04:00"), Interval.MONTH, NEW_YORK)
    assert start.isoformat() == "2026-03-01T00:00:00-05:00"
    # March loses an hour: 31 days minus one.
    end = next_start(start, Interval.MONTH, NEW_YORK)
    assert end.isoformat() == "2026-04-01T00:00:00-04:00"
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=31, hours=-1)


@pytest.mark.parametrize("zone", [UTC_ZONE, BERLIN])
def test_iso_week_across_the_year_end(zone: ZoneInfo) -> None:
    sunday_night = datetime(2027, 1, 3, 23, 59, tzinfo=zone)
    start = align_down(sunday_night, Interval.WEEK, zone)
    assert start.replace(tzinfo=None) == datetime(2026, 12, 28)  # a Monday
    assert next_start(start, Interval.WEEK, zone).replace(tzinfo=None) == datetime(2027, 1, 4)
    got = buckets(
        datetime(2026, 12, 27, tzinfo=zone),
        datetime(2027, 1, 5, tzinfo=zone),
        Interval.WEEK,
        zone,
        5,
    )
    assert [a.date().isoformat() for a, _ in got] == ["2026-12-21", "2026-12-28", "2027-01-04"]


def test_quarters_and_years() -> None:
    got = buckets(z("2026-05-20T00:00Z"), z("2027-02-01T00:00Z"), Interval.QUARTER, UTC_ZONE, 10)
    assert [a.date().isoformat() for a, _ in got] == [
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
        "2027-01-01",
    ]
    assert got[2][1].date().isoformat() == "2027-01-01"
    years = buckets(z("2026-05-20T00:00Z"), z("2027-02-01T00:00Z"), Interval.YEAR, BERLIN, 10)
    assert [a.isoformat() for a, _ in years] == [
        "2026-01-01T00:00:00+01:00",
        "2027-01-01T00:00:00+01:00",
    ]


def test_missing_local_midnight_starts_at_the_first_existing_instant() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06: 00:00 jumps to 01:00
    start = align_down(z("2026-09-06T12:00-03:00"), Interval.DAY, santiago)
    assert start.isoformat() == "2026-09-06T01:00:00-03:00"
    previous = align_down(z("2026-09-05T12:00-04:00"), Interval.DAY, santiago)
    assert next_start(previous, Interval.DAY, santiago).astimezone(UTC) == z("2026-09-06T04:00Z")
    beirut = ZoneInfo("Asia/Beirut")  # 2026-03-29: 00:00 jumps to 01:00
    assert align_down(z("2026-03-29T09:00Z"), Interval.DAY, beirut).isoformat() == (
        "2026-03-29T01:00:00+03:00"
    )


def test_half_hour_zone_hours() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    start = align_down(z("2026-01-01T10:10Z"), Interval.HOUR, kolkata)  # 15:40 local
    assert start.astimezone(UTC) == z("2026-01-01T09:30Z")
    assert start.isoformat() == "2026-01-01T15:00:00+05:30"


def test_empty_range_and_naive_input() -> None:
    assert buckets(z("2026-01-02T00:00Z"), z("2026-01-01T00:00Z"), Interval.DAY, BERLIN, 5) == []
    with pytest.raises(ValueError, match="aware"):
        align_down(datetime(2026, 1, 1), Interval.DAY, BERLIN)


def test_limit_fails_fast() -> None:
    assert (
        len(buckets(z("2026-01-01T00:00Z"), z("2026-01-03T00:00Z"), Interval("day"), BERLIN, 3))
        == 3
    )
    with pytest.raises(TooManyBucketsError) as caught:
        buckets(z("2026-01-01T00:00Z"), z("2026-01-05T00:00Z"), Interval.DAY, UTC_ZONE, 3)
    assert (caught.value.count, caught.value.limit, str(caught.value)) == (4, 3, "more than 3")
    assert isinstance(caught.value, ValueError)
    begin = clock.perf_counter()
    with pytest.raises(TooManyBucketsError):
        buckets(z("1900-01-01T00:00Z"), z("2900-01-01T00:00Z"), Interval.HOUR, BERLIN, 100)
    assert clock.perf_counter() - begin < 1


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Asia/Beirut",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Chatham",
    "America/St_Johns",
]
zones = st.sampled_from(ZONES).map(ZoneInfo) | st.timezones()
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)
LIMITS = {
    Interval.HOUR: timedelta(days=6),
    Interval.DAY: timedelta(days=60),
    Interval.WEEK: timedelta(days=300),
    Interval.MONTH: timedelta(days=900),
    Interval.QUARTER: timedelta(days=3000),
    Interval.YEAR: timedelta(days=9000),
}


@settings(max_examples=300, deadline=None)
@given(instants, st.floats(min_value=0.0, max_value=1.0), st.sampled_from(Interval), zones)
def test_bucket_properties(start: datetime, share: float, interval: Interval, tz: ZoneInfo) -> None:
    end = start + LIMITS[interval] * share
    got = utc(buckets(start, end, interval, tz, 10_000))
    if end <= start:
        assert got == []
        return
    assert got[0][0] <= start < got[0][1]  # the first bucket holds start
    assert got[-1][0] < end <= got[-1][1]  # the last bucket reaches end
    for (_, b), (c, _) in itertools.pairwise(got):
        assert b == c  # contiguous, so their union covers [start, end)
    for a, b in got:
        assert a < b  # non-empty
        # Every instant of a bucket aligns down to its start.
        for t in (a, a + (b - a) / 3, b - timedelta(microseconds=1)):
            assert align_down(t, interval, tz).astimezone(UTC) == a
        assert next_start(a, interval, tz).astimezone(UTC) == b
        if interval != Interval.HOUR:
            local = a.astimezone(tz)
            # Local midnight, unless that midnight did not exist (then the clock jumped).
            if local.time() != datetime.min.time():
                assert (a - timedelta(microseconds=1)).astimezone(tz).utcoffset() != (
                    local.utcoffset()
                )
    assert len(buckets(start, end, interval, tz, len(got))) == len(got)
    with pytest.raises(TooManyBucketsError):
        buckets(start, end, interval, tz, len(got) - 1)
