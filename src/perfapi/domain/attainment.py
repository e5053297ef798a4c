"""KPI attainment against a target period: pace, status and forecast (DESIGN 5)."""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from perfapi.domain.aggregates import Partial, aggregate, trend_at

# Accumulating aggregations grow through the period, so what is expected so far is a
# share of the target; level aggregations are expected to sit at the target all along.
_ACCUMULATING = frozenset({"sum", "count"})
_DIRECTIONS = frozenset({"higher_is_better", "lower_is_better"})
AT_RISK_PACE = 0.9


@dataclass(frozen=True, slots=True)
class AttainmentInput:
    period_start: date  # inclusive
    period_end: date  # inclusive
    target: float
    aggregation: str
    direction: str  # higher_is_better | lower_is_better
    as_of: datetime  # aware
    partial: Partial  # the period's points with ts <= as_of


@dataclass(frozen=True, slots=True)
class Attainment:
    period_start: date
    period_end: date
    target: float
    actual: float | None
    expected_to_date: float
    elapsed_fraction: float
    pace: float | None
    status: str
    forecast: float | None
    forecast_attainment: float | None


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """The UTC instants [period_start 00:00, period_end + 1 day 00:00) of inclusive dates."""
    begin = datetime.combine(period_start, time(), tzinfo=UTC)
    end = datetime.combine(period_end + timedelta(days=1), time(), tzinfo=UTC)
    return begin, end


def elapsed_fraction(period_start: date, period_end: date, as_of: datetime) -> float:
    """Share of the period elapsed at min(as_of, period end), clamped to [0, 1]."""
    begin, end = period_bounds(period_start, period_end)
    elapsed = (min(as_of, end) - begin) / (end - begin)
    return min(1.0, max(0.0, elapsed))


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    ratio = numerator / denominator
    # A tiny target (5e-324 is a valid one) can make the ratio overflow: no number then.
    return ratio if math.isfinite(ratio) else None


def attainment(data: AttainmentInput) -> Attainment:
    """Actual against expected-to-date and a forecast for the period end."""
    if data.period_end < data.period_start:
        raise ValueError("period_end is before period_start")
    if data.direction not in _DIRECTIONS:
        raise ValueError(f"unknown KPI direction {data.direction!r}")
    f = elapsed_fraction(data.period_start, data.period_end, data.as_of)
    actual = aggregate(data.partial, data.aggregation)
    if data.aggregation in _ACCUMULATING:
        expected = data.target * f
        forecast = _ratio(actual, f)
    else:
        expected = data.target
        forecast = trend_at(data.partial, period_bounds(data.period_start, data.period_end)[1])
    higher = data.direction == "higher_is_better"
    pace = _ratio(actual, expected) if higher else _ratio(expected, actual)
    forecast_attainment = _ratio(forecast, data.target) if higher else _ratio(data.target, forecast)
    return Attainment(
        period_start=data.period_start,
        period_end=data.period_end,
        target=data.target,
        actual=actual,
        expected_to_date=expected,
        elapsed_fraction=f,
        pace=pace,
        status=_status(data.partial.count, pace),
        forecast=forecast,
        forecast_attainment=forecast_attainment,
    )


def _status(count: int, pace: float | None) -> str:
    if count == 0:
        return "no_data"
    # No pace means nothing was expected yet (f = 0 or target 0) or, lower being
    # better, the actual is 0: neither is behind.
    if pace is None or pace >= 1:
        return "on_track"
    if pace >= AT_RISK_PACE:
        return "at_risk"
    return "off_track"
