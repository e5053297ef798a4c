import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfapi.domain.segments import Segments, decompose, merge_day_ranges


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def d(text: str) -> date:
    return date.fromisoformat(text)


def days(first: str, last: str) -> tuple[date, ...]:
    """Every date from first to last inclusive."""
    start, end = d(first), d(last)
    return tuple(start + timedelta(days=i) for i in range((end - start).days + 1))


def each_day(days: frozenset[date]) -> list[tuple[date, date]]:
    """Dirty days as one-day ranges, the form decompose takes."""
    return [(day, day) for day in sorted(days)]


def test_worked_example() -> None:
    # Jan 30 06:00 .. Apr 2 12:00 with Feb 14 dirty: a ragged head, Jan 31 as a day,
    # February day by day around the dirty day, March whole, Apr 1 a day, a ragged tail.
    got = decompose(
        z("2026-01-30T06:00Z"), z("2026-04-02T12:00Z"), each_day(frozenset({d("2026-02-14")}))
    )
    assert got == Segments(
        months=(d("2026-03-01"),),
        days=(
            d("2026-01-31"),
            *days("2026-02-01", "2026-02-13"),
            *days("2026-02-15", "2026-02-28"),
            d("2026-04-01"),
        ),
        raw=(
            (z("2026-01-30T06:00Z"), z("2026-01-31T00:00Z")),
            (z("2026-02-14T00:00Z"), z("2026-02-15T00:00Z")),
            (z("2026-04-02T00:00Z"), z("2026-04-02T12:00Z")),
        ),
    )


def test_adjacent_raw_ranges_merge() -> None:
    dirty = frozenset({d("2026-01-31"), d("2026-02-01"), d("2026-02-03")})
    got = decompose(z("2026-01-30T06:00Z"), z("2026-02-04T00:00Z"), each_day(dirty))
    assert got.raw == (
        (z("2026-01-30T06:00Z"), z("2026-02-02T00:00Z")),
        (z("2026-02-03T00:00Z"), z("2026-02-04T00:00Z")),
    )
    assert got.days == (d("2026-02-02"),)
    assert got.months == ()


def test_whole_months_only() -> None:
    got = decompose(z("2026-01-01T00:00Z"), z("2026-03-01T00:00Z"), [])
    assert got == Segments((d("2026-01-01"), d("2026-02-01")), (), ())


def test_within_one_day_is_raw() -> None:
    start, end = z("2026-01-01T03:00Z"), z("2026-01-01T05:00Z")
    assert decompose(start, end, []) == Segments((), (), ((start, end),))
    start, end = z("2026-01-01T03:00Z"), z("2026-01-02T05:00Z")
    assert decompose(start, end, []) == Segments((), (), ((start, end),))


def test_other_offsets_are_read_in_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    got = decompose(
        datetime(2026, 1, 1, 1, tzinfo=plus_one),
        datetime(2026, 1, 3, 1, tzinfo=plus_one),
        [],
    )
    assert got == Segments((), (d("2026-01-01"), d("2026-01-02")), ())


def test_dirty_day_outside_the_range_is_ignored() -> None:
    got = decompose(
        z("2026-03-01T00:00Z"), z("2026-04-01T00:00Z"), each_day(frozenset({d("2026-04-01")}))
    )
    assert got == Segments((d("2026-03-01"),), (), ())


def test_invalid_ranges() -> None:
    with pytest.raises(ValueError, match="start < end"):
        decompose(z("2026-01-02T00:00Z"), z("2026-01-02T00:00Z"), [])
    with pytest.raises(ValueError, match="aware"):
        decompose(datetime(2026, 1, 1), datetime(2026, 1, 2), [])


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)
hours = st.integers(min_value=0, max_value=24 * 400).map(lambda h: timedelta(hours=h))
dirty_sets = st.frozensets(st.dates(min_value=date(2023, 12, 1), max_value=date(2028, 3, 1)))


@given(
    instants,
    hours | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=500)),
    dirty_sets,
)
def test_segments_partition_the_range(
    start: datetime, length: timedelta, dirty: frozenset[date]
) -> None:
    end = start + length
    if end <= start:
        return
    got = decompose(start, end, each_day(dirty))
    pieces = [(midnight(m), midnight(month_end(m))) for m in got.months]
    pieces += [(midnight(day), midnight(day + timedelta(days=1))) for day in got.days]
    pieces += list(got.raw)
    pieces.sort()
    # Disjoint and covering: sorted pieces chain exactly from start to end.
    assert pieces[0][0] == start
    assert pieces[-1][1] == end
    for (_, b), (c, _) in itertools.pairwise(pieces):
        assert b == c
    assert all(a < b for a, b in pieces)
    # Months and days are whole, clean and inside the range.
    for m in got.months:
        assert m.day == 1
        assert start <= midnight(m)
        assert midnight(month_end(m)) <= end
        assert not any(m <= x < month_end(m) for x in dirty)
    for day in got.days:
        assert day not in dirty
        assert start <= midnight(day)
        assert midnight(day + timedelta(days=1)) <= end
        assert not any(m <= day < month_end(m) for m in got.months)
    # Raw ranges are merged and hold nothing but ragged edges and dirty days.
    for (_, b), (c, _) in itertools.pairwise(got.raw):
        assert b < c
    for a, b in got.raw:
        day = a.date() if a == midnight(a.date()) else a.date() + timedelta(days=1)
        while midnight(day + timedelta(days=1)) <= b:
            assert day in dirty
            day += timedelta(days=1)
    assert list(got.months) == sorted(got.months)
    assert list(got.days) == sorted(got.days)


def test_merge_day_ranges_joins_overlapping_and_adjacent() -> None:
    ranges = [
        (d("2026-03-01"), d("2026-03-05")),
        (d("2026-01-01"), d("2026-01-01")),
        (d("2026-03-06"), d("2026-03-06")),  # adjacent: joins the range before
        (d("2026-03-03"), d("2026-03-04")),  # inside: absorbed
        (d("2026-01-03"), d("2026-01-03")),  # a day apart: stays on its own
        (d("0001-01-01"), d("0001-01-01")),
        (d("9999-12-31"), d("9999-12-31")),
    ]
    assert merge_day_ranges(ranges) == [
        (d("0001-01-01"), d("0001-01-01")),
        (d("2026-01-01"), d("2026-01-01")),
        (d("2026-01-03"), d("2026-01-03")),
        (d("2026-03-01"), d("2026-03-06")),
        (d("9999-12-31"), d("9999-12-31")),
    ]
    assert merge_day_ranges([]) == []
    with pytest.raises(ValueError, match="must not end before it starts"):
        merge_day_ranges([(d("2026-01-02"), d("2026-01-01"))])


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 5)).map(
            lambda pair: (
                (date(2026, 1, 1) + timedelta(days=pair[0]),) * 2
                if pair[1] == 0
                else (
                    date(2026, 1, 1) + timedelta(days=pair[0]),
                    date(2026, 1, 1) + timedelta(days=pair[0] + pair[1]),
                )
            )
        ),
        max_size=12,
    )
)
def test_merged_ranges_cover_exactly_the_same_days(ranges: list[tuple[date, date]]) -> None:
    def covered(spans: list[tuple[date, date]]) -> set[date]:
        return {
            first + timedelta(days=offset)
            for first, last in spans
            for offset in range((last - first).days + 1)
        }

    merged = merge_day_ranges(ranges)
    assert covered(merged) == covered(ranges)
    # Disjoint, in order, and never touching: a gap of at least one day between them.
    for (_, last), (first, _) in itertools.pairwise(merged):
        assert (first - last).days > 1


def test_a_dirty_span_of_centuries_is_one_raw_range() -> None:
    got = decompose(
        z("1950-01-01T00:00Z"),
        z("2900-01-01T00:00Z"),
        [(d("1960-03-01"), d("2850-06-30")), (d("2000-01-01"), d("2000-01-01"))],
    )
    assert got.raw == ((z("1960-03-01T00:00Z"), z("2850-07-01T00:00Z")),)
    assert got.days == ()
    assert got.months[:2] == (d("1950-01-01"), d("1950-02-01"))
    assert len(got.months) == (1960 - 1950) * 12 + 2 + (2900 - 2850) * 12 - 6


def test_dirty_ranges_are_clipped_to_the_range() -> None:
    got = decompose(
        z("2026-03-10T00:00Z"), z("2026-03-12T00:00Z"), [(d("0001-01-01"), d("9999-12-31"))]
    )
    assert got == Segments((), (), ((z("2026-03-10T00:00Z"), z("2026-03-12T00:00Z")),))
