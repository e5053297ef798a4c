"""Forecasts of a bucketed series: plain numbers in, numbers out.

Three methods, chosen from the length of the history unless one is asked for:

- ``seasonal``: exponential smoothing with additive errors, a damped additive
  trend and additive seasonality (ETS(A,Ad,A)), once two full seasons exist;
- ``trend``: the same without seasonality (ETS(A,Ad,N)), from
  :data:`TREND_MIN_HISTORY` buckets;
- ``naive``: the last value carries on, its uncertainty growing with the square
  root of the horizon (a random walk), from :data:`MIN_HISTORY` buckets.

The ETS models are statsmodels' state-space implementation, fitted by maximum
likelihood; their prediction intervals are exact for these additive models. A
fit that fails or yields non-finite numbers falls back to ``naive``, so a
strange series gets a plain forecast rather than an error.
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MIN_HISTORY = 3
TREND_MIN_HISTORY = 6
SEASONS_NEEDED = 2
HEURISTIC_MIN_HISTORY = 10
SIMULATIONS = 1000
# Fixed, so that one history always gives the same probabilities (and tags).
SIMULATION_SEED = 20260101


MIN_TAIL = 1e-12
"""The smallest probability left outside an interval on each side: a level closer to 1
than that (0.9999999999999999 is a valid level) is computed as 1 - 2e-12, since the
normal quantile of a probability that rounds to 1 is infinite."""


def _tail(level: float) -> float:
    """The probability outside an interval at ``level``, on each side."""
    return max((1 - level) / 2, MIN_TAIL)


def _z(level: float) -> float:
    return -NormalDist().inv_cdf(_tail(level))


class Method(StrEnum):
    NAIVE = "naive"
    TREND = "trend"
    SEASONAL = "seasonal"


class TooLittleHistoryError(ValueError):
    """Fewer buckets than a forecast needs."""


def automatic_method(history_length: int, season_length: int | None) -> Method:
    if season_length and history_length >= SEASONS_NEEDED * season_length:
        return Method.SEASONAL
    if history_length >= TREND_MIN_HISTORY:
        return Method.TREND
    return Method.NAIVE


def minimum_history(method: Method, season_length: int | None) -> int:
    if method is Method.SEASONAL:
        return SEASONS_NEEDED * (season_length or 1)
    if method is Method.TREND:
        return TREND_MIN_HISTORY
    return MIN_HISTORY


@dataclass(frozen=True)
class Forecast:
    method: Method
    history: int
    mean: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


@dataclass(frozen=True)
class OneStep:
    """What the model expected of a bucket from the buckets before it."""

    expected: float
    lower: float
    upper: float
    sigma: float


class FittedModel:
    """A method fitted to a history; forecasts, simulated futures and one-step predictions."""

    def __init__(self, method: Method, history: "NDArray[np.float64]", results: Any) -> None:
        self.method = method
        self.history = history
        self._results = results  # statsmodels ETSResults, or None for naive
        residuals = np.diff(history) if results is None else np.asarray(results.resid, dtype=float)
        self.sigma = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0

    def forecast(self, horizon: int, level: float) -> Forecast:
        if self._results is None:
            z = _z(level)
            last = float(self.history[-1])
            spread = [z * self.sigma * math.sqrt(step) for step in range(1, horizon + 1)]
            return Forecast(
                self.method,
                len(self.history),
                tuple([last] * horizon),
                tuple(last - width for width in spread),
                tuple(last + width for width in spread),
            )
        n = len(self.history)
        frame = self._results.get_prediction(start=n, end=n + horizon - 1).summary_frame(
            alpha=2 * _tail(level)
        )
        return Forecast(
            self.method,
            n,
            tuple(float(v) for v in frame["mean"]),
            tuple(float(v) for v in frame["pi_lower"]),
            tuple(float(v) for v in frame["pi_upper"]),
        )

    def simulate(self, horizon: int) -> "NDArray[np.float64]":
        """SIMULATIONS possible futures of ``horizon`` buckets: shape (horizon, SIMULATIONS)."""
        generator = np.random.default_rng(SIMULATION_SEED)
        if self._results is None:
            steps = generator.normal(0.0, self.sigma, size=(horizon, SIMULATIONS))
            return float(self.history[-1]) + np.cumsum(steps, axis=0)
        paths = self._results.simulate(
            nsimulations=horizon,
            repetitions=SIMULATIONS,
            anchor="end",
            rng=generator,
        )
        return np.asarray(paths, dtype=float).reshape(horizon, SIMULATIONS)

    def one_step_ahead(self, level: float) -> list[OneStep | None]:
        """Per bucket of the history, what was expected of it from the ones before (None
        for the first bucket, which nothing came before).

        The interval's spread is estimated robustly (1.4826 times the median absolute
        one-step error, which equals the standard deviation for normal errors): a few
        outliers, the very things this is for, then cannot widen it enough to hide.
        """
        z = _z(level)
        if self._results is None:
            expected = self.history[:-1]
        else:
            expected = np.asarray(self._results.fittedvalues, dtype=float)[1:]
        errors = self.history[1:] - expected
        sigma = float(1.4826 * np.median(np.abs(errors))) if errors.size else 0.0
        width = z * sigma
        return [None] + [
            OneStep(float(value), float(value) - width, float(value) + width, sigma)
            for value in expected
        ]


def fit(
    history: Sequence[float], season_length: int | None, method: Method | None = None
) -> FittedModel:
    """Fit ``method`` (default: :func:`automatic_method`) to the history, oldest first."""
    values = np.asarray(history, dtype=float)
    chosen = method or automatic_method(len(values), season_length)
    if len(values) < minimum_history(chosen, season_length):
        raise TooLittleHistoryError(
            f"{chosen} needs at least {minimum_history(chosen, season_length)} buckets of history"
        )
    if chosen is Method.NAIVE or np.ptp(values) == 0:
        # A constant series has nothing to smooth: every method forecasts it flat.
        return FittedModel(chosen, values, None)
    try:
        results = _fit_ets(values, chosen, season_length)
    except (ValueError, np.linalg.LinAlgError, OverflowError, FloatingPointError):
        return FittedModel(Method.NAIVE, values, None)
    if not np.all(np.isfinite(np.asarray(results.fittedvalues, dtype=float))):
        return FittedModel(Method.NAIVE, values, None)
    return FittedModel(chosen, values, results)


def _fit_ets(values: "NDArray[np.float64]", method: Method, season_length: int | None) -> Any:
    # Imported here: heavy (about a second), loaded with the first forecast, not at startup.
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    from statsmodels.tsa.exponential_smoothing.ets import (  # type: ignore[import-untyped]
        ETSModel,
    )

    seasonal = method is Method.SEASONAL
    # Initial states from a decomposition of the first seasons rather than estimated
    # with the smoothing parameters: a tenth of the fitting time, and the optimiser no
    # longer settles with a season it never learns. It needs 10 buckets, and with
    # seasons another half season on each side.
    needed = HEURISTIC_MIN_HISTORY + (2 * ((season_length or 0) // 2) if seasonal else 0)
    heuristic = len(values) >= needed
    model = ETSModel(
        # A Series: statsmodels' prediction intervals need an index to label rows.
        pd.Series(values),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=season_length if seasonal else None,
        initialization_method="heuristic" if heuristic else "estimated",
    )
    with warnings.catch_warnings():
        # Convergence chatter from the optimiser; a poor fit still forecasts.
        warnings.simplefilter("ignore")
        return model.fit(disp=False)


def probability_at_least(samples: "NDArray[np.float64]", threshold: float) -> float:
    return float(np.mean(samples >= threshold))
