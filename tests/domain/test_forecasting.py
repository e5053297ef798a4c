import math

import numpy as np
import pytest

from perfapi.domain.forecasting import (
    Method,
    TooLittleHistoryError,
    automatic_method,
    fit,
    probability_at_least,
)


def seasonal_series(n: int, season: int = 7, noise: float = 1.0) -> list[float]:
    generator = np.random.default_rng(7)
    t = np.arange(n)
    values = 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / season) + generator.normal(0, noise, n)
    return [float(v) for v in values]


@pytest.mark.parametrize(
    ("length", "season", "method"),
    [
        (3, 7, Method.NAIVE),
        (5, 7, Method.NAIVE),
        (6, 7, Method.TREND),
        (13, 7, Method.TREND),
        (14, 7, Method.SEASONAL),
        (103, 52, Method.TREND),
        (104, 52, Method.SEASONAL),
        (40, None, Method.TREND),
    ],
)
def test_the_method_follows_the_length_of_the_history(
    length: int, season: int | None, method: Method
) -> None:
    assert automatic_method(length, season) is method


def test_too_little_history_is_refused() -> None:
    with pytest.raises(TooLittleHistoryError):
        fit([1.0, 2.0], 7)
    with pytest.raises(TooLittleHistoryError):
        fit([1.0, 2.0, 3.0, 4.0], 7, Method.TREND)
    with pytest.raises(TooLittleHistoryError):
        fit(seasonal_series(13), 7, Method.SEASONAL)


def test_a_seasonal_model_follows_the_season_a_trend_model_cannot() -> None:
    series = seasonal_series(8 * 7 + 14)
    history, future = series[:-14], np.array(series[-14:])
    seasonal = fit(history, 7).forecast(14, 0.8)
    trend = fit(history, 7, Method.TREND).forecast(14, 0.8)
    assert seasonal.method is Method.SEASONAL
    assert trend.method is Method.TREND
    seasonal_error = np.mean(np.abs(np.array(seasonal.mean) - future))
    trend_error = np.mean(np.abs(np.array(trend.mean) - future))
    assert seasonal_error < trend_error / 3
    inside = [
        low <= actual <= high
        for low, actual, high in zip(seasonal.lower, future, seasonal.upper, strict=True)
    ]
    assert sum(inside) >= 10  # an 80% interval holds most of what happened


def test_intervals_hold_the_mean_widen_with_the_horizon_and_the_level() -> None:
    model = fit(seasonal_series(30, noise=5.0), None)
    narrow = model.forecast(6, 0.5)
    wide = model.forecast(6, 0.95)
    for forecast in (narrow, wide):
        assert all(
            lo < mid < hi
            for lo, mid, hi in zip(forecast.lower, forecast.mean, forecast.upper, strict=True)
        )
    widths = [hi - lo for lo, hi in zip(wide.lower, wide.upper, strict=True)]
    assert widths == sorted(widths)
    assert all(
        w_hi - w_lo > n_hi - n_lo
        for w_lo, w_hi, n_lo, n_hi in zip(
            wide.lower, wide.upper, narrow.lower, narrow.upper, strict=True
        )
    )


def test_naive_carries_the_last_value_on_with_a_random_walks_spread() -> None:
    model = fit([10.0, 12.0, 11.0], 7)
    forecast = model.forecast(4, 0.8)
    assert forecast.method is Method.NAIVE
    assert forecast.mean == (11.0, 11.0, 11.0, 11.0)
    width_1 = forecast.upper[0] - forecast.mean[0]
    width_4 = forecast.upper[3] - forecast.mean[3]
    assert width_4 == pytest.approx(2 * width_1)


def test_a_constant_series_is_forecast_flat_and_certain() -> None:
    forecast = fit([5.0] * 20, 7).forecast(3, 0.8)
    assert forecast.mean == forecast.lower == forecast.upper == (5.0, 5.0, 5.0)


def test_extreme_values_still_give_finite_forecasts() -> None:
    series = [1e15 if i % 2 else -1e15 for i in range(30)]
    forecast = fit(series, 7).forecast(5, 0.8)
    for values in (forecast.mean, forecast.lower, forecast.upper):
        assert all(math.isfinite(v) for v in values)


def test_one_step_ahead_flags_what_the_history_did_not_lead_to_expect() -> None:
    series = seasonal_series(60)
    series[45] += 80
    steps = fit(series, 7).one_step_ahead(0.99)
    assert steps[0] is None
    assert len(steps) == len(series)
    outside = [
        i
        for i, (step, value) in enumerate(zip(steps, series, strict=True))
        if step is not None and not step.lower <= value <= step.upper
    ]
    assert 45 in outside
    assert len(outside) <= 3


def test_simulated_futures_are_repeatable_and_give_probabilities() -> None:
    model = fit(seasonal_series(40), 7)
    first = model.simulate(5)
    assert first.shape == (5, 1000)
    assert np.array_equal(first, model.simulate(5))
    totals = first.sum(axis=0)
    assert probability_at_least(totals, float(np.min(totals))) == 1.0
    assert probability_at_least(totals, float(np.max(totals)) + 1) == 0.0
    assert 0.3 < probability_at_least(totals, float(np.median(totals))) < 0.7


@pytest.mark.parametrize("level", [1e-300, 0.5, 0.9999999999999999, 1 - 1e-300])
@pytest.mark.parametrize("length", [4, 30])
def test_any_level_strictly_between_0_and_1_gives_finite_intervals(
    level: float, length: int
) -> None:
    forecast = fit(seasonal_series(length), 7).forecast(3, level)
    for values in (forecast.mean, forecast.lower, forecast.upper):
        assert all(math.isfinite(v) for v in values)
    assert all(lo <= hi for lo, hi in zip(forecast.lower, forecast.upper, strict=True))
