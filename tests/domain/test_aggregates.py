import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfapi.domain.aggregates import (
    AGGREGATIONS,
    EMPTY,
    EPOCH,
    Partial,
    Summary,
    aggregate,
    aggregate_summaries,
    combine,
    days_since_epoch,
    partial_of,
    trend_at,
)


def day(n: float) -> datetime:
    """The instant n days after 2000-01-01T00:00Z (x = n)."""
    return EPOCH + timedelta(days=n)


# Three points at x = 1, 3, 2 with values 3, 5, 1, deliberately out of time order.
POINTS = [(day(1), 3.0), (day(3), 5.0), (day(2), 1.0)]


def test_days_since_epoch() -> None:
    assert days_since_epoch(EPOCH) == 0.0
    assert days_since_epoch(datetime(2000, 1, 2, tzinfo=UTC)) == 1.0
    assert days_since_epoch(datetime(2000, 1, 1, 12, tzinfo=UTC)) == 0.5
    plus_one = timezone(timedelta(hours=1))
    assert days_since_epoch(datetime(2000, 1, 1, 1, tzinfo=plus_one)) == 0.0
    assert days_since_epoch(datetime(1999, 12, 31, tzinfo=UTC)) == -1.0


def test_partial_of_worked_example() -> None:
    # sum_x = 1+3+2 = 6, sum_xx = 1+9+4 = 14, sum_xy = 3+15+2 = 20
    assert partial_of(POINTS) == Partial(
        count=3,
        sum=9.0,
        min=1.0,
        max=5.0,
        last_ts=day(3),
        last_value=5.0,
        sum_x=6.0,
        sum_xx=14.0,
        sum_xy=20.0,
    )


def test_partial_of_nothing_is_empty() -> None:
    assert partial_of([]) == EMPTY
    assert EMPTY.count == 0
    assert EMPTY.last_ts is None


def test_partial_of_tie_keeps_the_later_point() -> None:
    assert partial_of([(day(1), 7.0), (day(1), 8.0)]).last_value == 8.0


def test_combine_worked_example() -> None:
    left = partial_of(POINTS[:1])
    right = partial_of(POINTS[1:])
    assert combine([left, EMPTY, right]) == partial_of(POINTS)
    assert combine([right, left]).last_value == 5.0
    assert combine([]) == EMPTY
    assert combine([EMPTY, EMPTY]) == EMPTY


def test_combine_tie_keeps_the_later_part() -> None:
    first = partial_of([(day(4), 1.0)])
    second = partial_of([(day(4), 2.0)])
    assert combine([first, second]).last_value == 2.0
    assert combine([second, first]).last_value == 1.0


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("sum", 9.0), ("avg", 3.0), ("min", 1.0), ("max", 5.0), ("last", 5.0), ("count", 3.0)],
)
def test_aggregate_worked_example(aggregation: str, expected: float) -> None:
    assert aggregate(partial_of(POINTS), aggregation) == expected
    assert aggregate(EMPTY, aggregation) is None


def test_aggregate_rejects_unknown_aggregation() -> None:
    with pytest.raises(ValueError, match="median"):
        aggregate(partial_of(POINTS), "median")


def test_trend_worked_example() -> None:
    # mean x = 2, mean y = 3; slope = ((-1)(0) + (0)(-2) + (1)(2)) / (1 + 0 + 1) = 1
    # at x = 5: 3 + 1 * (5 - 2) = 6
    assert trend_at(partial_of(POINTS), day(5)) == pytest.approx(6.0)
    assert trend_at(partial_of(POINTS), day(2)) == pytest.approx(3.0)


def test_trend_of_a_recent_line() -> None:
    # y = 2x + 1 on ten days in 2026; the far-from-origin x values must not spoil it.
    start = days_since_epoch(datetime(2026, 1, 1, tzinfo=UTC))
    points = [(day(start + i), 2 * (start + i) + 1) for i in range(10)]
    assert trend_at(partial_of(points), day(start + 30)) == pytest.approx(2 * (start + 30) + 1)


def test_trend_degenerate_cases() -> None:
    assert trend_at(EMPTY, day(1)) is None
    assert trend_at(partial_of([(day(1), 4.0)]), day(9)) == 4.0
    same_x = partial_of([(day(3), 1.0), (day(3), 9.0), (day(3), 2.0)])
    assert trend_at(same_x, day(9)) == 2.0
    at_epoch = partial_of([(EPOCH, 1.0), (EPOCH, 5.0)])
    assert trend_at(at_epoch, day(9)) == 5.0


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
point_lists = st.lists(st.tuples(instants, values), max_size=30)


def assert_same_partial(got: Partial, expected: Partial) -> None:
    assert (got.count, got.min, got.max) == (expected.count, expected.min, expected.max)
    assert (got.last_ts, got.last_value) == (expected.last_ts, expected.last_value)
    for name in ("sum", "sum_x", "sum_xx", "sum_xy"):
        a, b = getattr(got, name), getattr(expected, name)
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3), name


@given(point_lists, st.lists(st.integers(min_value=0, max_value=30), max_size=5))
def test_combining_chunks_equals_summarising_all(
    points: list[tuple[datetime, float]], cuts: list[int]
) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(points)), len(points)]
    chunks = [partial_of(points[a:b]) for a, b in itertools.pairwise(bounds)]
    assert_same_partial(combine(chunks), partial_of(points))


@given(point_lists)
def test_aggregates_match_the_points(points: list[tuple[datetime, float]]) -> None:
    partial = partial_of(points)
    if not points:
        assert aggregate(partial, "sum") is None
        return
    assert aggregate(partial, "count") == len(points)
    assert aggregate(partial, "min") == min(v for _, v in points)
    assert aggregate(partial, "max") == max(v for _, v in points)
    latest = max(ts for ts, _ in points)
    assert aggregate(partial, "last") == [v for ts, v in points if ts == latest][-1]
    total = aggregate(partial, "sum")
    assert total is not None
    assert math.isclose(total, math.fsum(v for _, v in points), rel_tol=1e-9, abs_tol=1e-3)


@given(
    st.sets(st.integers(min_value=0, max_value=365), min_size=2, max_size=20),
    st.floats(min_value=-1000, max_value=1000),
    st.floats(min_value=-100, max_value=100),
)
def test_trend_recovers_an_exact_line(offsets: set[int], level: float, slope: float) -> None:
    origin = days_since_epoch(datetime(2026, 1, 1, tzinfo=UTC))
    points = [(day(origin + o), level + slope * o) for o in sorted(offsets)]
    got = trend_at(partial_of(points), day(origin + 400))
    assert got is not None
    assert math.isclose(
        got, level + slope * 400, abs_tol=1e-4 * (1 + abs(level) + 400 * abs(slope))
    )


@given(instants, st.lists(values, min_size=1, max_size=20))
def test_trend_with_one_instant_is_the_last_value(ts: datetime, ys: list[float]) -> None:
    assert trend_at(partial_of([(ts, y) for y in ys]), ts + timedelta(days=30)) == ys[-1]


@given(
    point_lists,
    st.lists(st.integers(min_value=0, max_value=30), max_size=5),
    st.sampled_from(sorted(AGGREGATIONS)),
)
def test_summaries_aggregate_as_partials_do(
    points: list[tuple[datetime, float]], cuts: list[int], aggregation: str
) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(points)), len(points)]
    chunks = [partial_of(points[a:b]) for a, b in itertools.pairwise(bounds)]
    summaries = [_summary(chunk) for chunk in chunks]
    # Equal, not close: the same sums in the same order.
    assert aggregate_summaries(summaries, aggregation) == aggregate(combine(chunks), aggregation)


def _summary(partial: Partial) -> Summary:
    return Summary(
        partial.count,
        partial.sum,
        partial.min,
        partial.max,
        partial.last_ts,
        partial.last_value,
    )


def test_summaries_reject_an_unknown_aggregation() -> None:
    with pytest.raises(ValueError, match="median"):
        aggregate_summaries([], "median")
