from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfapi.domain.aggregates import EMPTY, Partial, partial_of
from perfapi.domain.attainment import (
    Attainment,
    AttainmentInput,
    attainment,
    elapsed_fraction,
    period_bounds,
)

JAN = (date(2026, 1, 1), date(2026, 1, 31))  # 31 days


def at(day: int, hour: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def run(
    partial: Partial,
    as_of: datetime,
    *,
    target: float = 310.0,
    aggregation: str = "sum",
    direction: str = "higher_is_better",
    period: tuple[date, date] = JAN,
) -> Attainment:
    return attainment(AttainmentInput(*period, target, aggregation, direction, as_of, partial))


def test_period_bounds_and_fraction() -> None:
    assert period_bounds(*JAN) == (at(1), at(1, month=2))
    assert elapsed_fraction(*JAN, at(11)) == pytest.approx(10 / 31)
    assert elapsed_fraction(*JAN, at(1)) == 0.0
    assert elapsed_fraction(*JAN, datetime(2025, 12, 1, tzinfo=UTC)) == 0.0
    assert elapsed_fraction(*JAN, at(1, month=2)) == 1.0
    assert elapsed_fraction(*JAN, at(1, month=6)) == 1.0
    one_day = (date(2026, 1, 1), date(2026, 1, 1))
    assert elapsed_fraction(*one_day, at(1, 6)) == 0.25


def test_sum_worked_example() -> None:
    # Ten of 31 days gone, 90 summed: expected 310 * 10/31 = 100, pace 0.9 (at risk),
    # forecast 90 / (10/31) = 279, forecast attainment 279 / 310 = 0.9.
    partial = partial_of([(at(2), 40.0), (at(9), 50.0)])
    result = run(partial, at(11))
    assert result.actual == 90.0
    assert result.elapsed_fraction == pytest.approx(10 / 31)
    assert result.expected_to_date == pytest.approx(100.0)
    assert result.pace == pytest.approx(0.9)
    assert result.status == "at_risk"
    assert result.forecast == pytest.approx(279.0)
    assert result.forecast_attainment == pytest.approx(0.9)
    assert (result.period_start, result.period_end, result.target) == (*JAN, 310.0)


def test_count_worked_example() -> None:
    # Four points by day 11 against 31 expected over the month: expected 10, pace 0.4.
    partial = partial_of([(at(d), 1.0) for d in (2, 3, 5, 8)])
    result = run(partial, at(11), target=31.0, aggregation="count")
    assert result.actual == 4.0
    assert result.expected_to_date == pytest.approx(10.0)
    assert result.pace == pytest.approx(0.4)
    assert result.status == "off_track"
    assert result.forecast == pytest.approx(12.4)  # 4 / (10/31)
    assert result.forecast_attainment == pytest.approx(0.4)


def test_lower_is_better_sum() -> None:
    # Expected 100 so far, spent 110: pace 100/110; forecast 110 * 3.1 = 341, 310/341.
    result = run(partial_of([(at(5), 110.0)]), at(11), direction="lower_is_better")
    assert result.pace == pytest.approx(100 / 110)
    assert result.status == "at_risk"
    assert result.forecast == pytest.approx(341.0)
    assert result.forecast_attainment == pytest.approx(310 / 341)


def test_avg_uses_the_trend() -> None:
    # Period Jan 1..10, as of Jan 5 (f = 0.4). Points 10 on Jan 1 and 14 on Jan 3:
    # avg 12 against target 20 (pace 0.6); the line rises 2 a day, so at the period end
    # (Jan 11 00:00, ten days after Jan 1) it reaches 10 + 2 * 10 = 30, 30 / 20 = 1.5.
    partial = partial_of([(at(1), 10.0), (at(3), 14.0)])
    period = (date(2026, 1, 1), date(2026, 1, 10))
    result = run(partial, at(5), target=20.0, aggregation="avg", period=period)
    assert result.elapsed_fraction == pytest.approx(0.4)
    assert result.actual == 12.0
    assert result.expected_to_date == 20.0
    assert result.pace == pytest.approx(0.6)
    assert result.status == "off_track"
    assert result.forecast == pytest.approx(30.0)
    assert result.forecast_attainment == pytest.approx(1.5)


def test_lower_is_better_level() -> None:
    # Latency: last 250 against a ceiling of 200: pace 200/250 = 0.8; one point, so the
    # forecast is that value and forecast attainment 200/250.
    partial = partial_of([(at(3), 250.0)])
    result = run(partial, at(4), target=200, aggregation="last", direction="lower_is_better")
    assert result.pace == pytest.approx(0.8)
    assert result.status == "off_track"
    assert result.forecast == 250.0
    assert result.forecast_attainment == pytest.approx(0.8)


@pytest.mark.parametrize("aggregation", ["sum", "count", "avg", "min", "max", "last"])
def test_no_data(aggregation: str) -> None:
    result = run(EMPTY, at(11), aggregation=aggregation)
    assert result.status == "no_data"
    assert (result.actual, result.pace, result.forecast, result.forecast_attainment) == (
        None,
        None,
        None,
        None,
    )


def test_nothing_expected_yet_is_on_track() -> None:
    # A point right at the period start, read at that instant: f = 0, expected 0.
    result = run(partial_of([(at(1), 5.0)]), at(1))
    assert (result.expected_to_date, result.pace, result.forecast) == (0.0, None, None)
    assert result.status == "on_track"


def test_lower_is_better_with_zero_actual_is_on_track() -> None:
    result = run(partial_of([(at(2), 0.0)]), at(11), direction="lower_is_better")
    assert (result.pace, result.status) == (None, "on_track")
    assert result.forecast == 0.0
    assert result.forecast_attainment is None  # target / 0


def test_zero_target_has_no_forecast_attainment() -> None:
    result = run(partial_of([(at(2), 3.0)]), at(11), target=0.0)
    assert result.pace is None
    assert result.forecast_attainment is None


@pytest.mark.parametrize(
    ("actual", "status"),
    [(100.0, "on_track"), (150.0, "on_track"), (90.0, "at_risk"), (89.0, "off_track")],
)
def test_status_boundaries(actual: float, status: str) -> None:
    # target 100 with avg: expected is the target itself, so pace = actual / 100.
    partial = partial_of([(at(2), actual)])
    assert run(partial, at(11), target=100.0, aggregation="avg").status == status


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="direction"):
        run(EMPTY, at(11), direction="sideways")
    with pytest.raises(ValueError, match="period_end"):
        run(EMPTY, at(11), period=(date(2026, 2, 1), date(2026, 1, 1)))
    with pytest.raises(ValueError, match="aggregation"):
        run(EMPTY, at(11), aggregation="median")


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=31 * 24 - 1), st.floats(0, 1000)),
        max_size=20,
    ),
    st.integers(min_value=-48, max_value=40 * 24),
    st.sampled_from(["sum", "count", "avg", "min", "max", "last"]),
    st.sampled_from(["higher_is_better", "lower_is_better"]),
    st.floats(min_value=0, max_value=1e4),
)
def test_attainment_properties(
    hours: list[tuple[int, float]], as_of_hour: int, aggregation: str, direction: str, target: float
) -> None:
    as_of = at(1) + timedelta(hours=as_of_hour)
    points = [
        (at(1) + timedelta(hours=h), v) for h, v in hours if at(1) + timedelta(hours=h) <= as_of
    ]
    result = run(
        partial_of(points), as_of, target=target, aggregation=aggregation, direction=direction
    )
    assert 0.0 <= result.elapsed_fraction <= 1.0
    if not points:
        assert result.status == "no_data"
        return
    pace = result.pace
    expected_status = (
        "on_track" if pace is None or pace >= 1 else "at_risk" if pace >= 0.9 else "off_track"
    )
    assert result.status == expected_status
    if aggregation in ("sum", "count") and result.forecast is not None:
        assert result.actual is not None
        assert result.forecast * result.elapsed_fraction == pytest.approx(result.actual)
    if aggregation in ("sum", "count"):
        assert result.expected_to_date == pytest.approx(target * result.elapsed_fraction)
    else:
        assert result.expected_to_date == target


def test_ratios_that_would_overflow_are_none_not_infinite() -> None:
    # A target of the smallest double is valid input; 1e15 / 5e-324 is not a number.
    partial = partial_of([(at(2), 1e15)])
    higher = run(partial, at(11), target=5e-324)
    assert (higher.pace, higher.forecast_attainment) == (None, None)
    lower = run(partial_of([(at(2), 5e-324)]), at(31), target=1e15, direction="lower_is_better")
    assert lower.pace is None
    assert lower.status == "on_track"
