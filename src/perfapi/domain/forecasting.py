"""Forecasts of a bucketed series: plain numbers in, numbers out.

Three methods, chosen from the length of the history unless one is asked for:

- ``seasonal``, once two full seasons exist. A short season (a week of days) is
  exponential smoothing with additive errors, a damped additive trend and additive
  seasonality (ETS(A,Ad,A)). A long season (:data:`LONG_SEASON` buckets or more: a
  year of months or of weeks) is the mean of two forecasts: Holt-Winters with a
  damped additive trend and an additive or, for a strictly positive history, a
  multiplicative season, whichever has the lower AICc; and an STL decomposition
  whose seasonally adjusted part is extrapolated by ETS(A,Ad,N) while its season
  repeats (see :class:`_Blend`);
- ``trend``: ETS(A,Ad,N), from :data:`TREND_MIN_HISTORY` buckets;
- ``naive``: the last value carries on, its uncertainty growing with the square
  root of the horizon (a random walk), from :data:`MIN_HISTORY` buckets.

Why the long seasons differ. A history of months or weeks holds few seasons (at
most ten years of months, three of weeks), so initial states decomposed from its
first seasons weigh on the whole fit, and one model's choice between an additive
and a multiplicative season is often the wrong one out of sample. Holt-Winters
estimates its initial states with its smoothing parameters, and averaging it with a
forecast of another kind hedges either one's mistakes: on bench.forecast_accuracy's
five monthly and weekly series, 12 buckets ahead, the mean ratio of the MAE to that
of Holt-Winters alone went from 1.27 (with ETS(A,Ad,A), as days still have it) to
0.94. The price is a few hundred milliseconds per fit instead of about ten: one
monthly or weekly request can afford it, the hundreds of daily models an outlook
fits could not. Days keep ETS: dozens of weeks follow to correct initial states
decomposed from the first ones.

All are statsmodels' implementations: ETS its state-space models fitted by maximum
likelihood, with exact prediction intervals for these additive models; Holt-Winters
``ExponentialSmoothing`` fitted by least squares; ``STLForecast``. The long-season
intervals are quantiles of simulated futures of the Holt-Winters model (additive
errors, their spread from its residuals) centred on the blended forecast. A fit
that fails or yields non-finite numbers falls back to ``naive``, so a strange
series gets a plain forecast rather than an error.
"""

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Protocol

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

LONG_SEASON = 12
"""Seasons of this many buckets or more (a year of months or of weeks) get the blend."""

DAMPING_RANGE = (0.8, 0.995)
"""Holt-Winters' own range for the damping of the trend, given to the STL half too: ETS's
default ceiling of 0.98 extrapolates a steady trend 12% short a year of months ahead."""


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


class Seasonality(StrEnum):
    """How a seasonal model's season combines with its level."""

    ADDITIVE = "additive"
    MULTIPLICATIVE = "multiplicative"


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


class _Model(Protocol):
    """A fitted statsmodels model, as FittedModel uses it."""

    seasonality: Seasonality | None
    fitted: "NDArray[np.float64]"  # one-step-ahead predictions of the history
    residuals: "NDArray[np.float64]"

    def forecast(
        self, horizon: int, level: float
    ) -> tuple["NDArray[np.float64]", "NDArray[np.float64]", "NDArray[np.float64]"]: ...

    def simulate(self, horizon: int, generator: np.random.Generator) -> "NDArray[np.float64]": ...


@contextmanager
def _quiet() -> Iterator[None]:
    """Convergence chatter and overflow warnings from statsmodels: a poor fit still
    forecasts, and a non-finite one is caught by what it returns."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


class _Ets:
    """statsmodels ETS results; its intervals are exact for these additive models."""

    def __init__(self, results: Any, seasonality: Seasonality | None) -> None:
        self.results = results
        self.seasonality = seasonality
        self.fitted = np.asarray(results.fittedvalues, dtype=float)
        self.residuals = np.asarray(results.resid, dtype=float)

    def forecast(
        self, horizon: int, level: float
    ) -> tuple["NDArray[np.float64]", "NDArray[np.float64]", "NDArray[np.float64]"]:
        n = len(self.fitted)
        frame = self.results.get_prediction(start=n, end=n + horizon - 1).summary_frame(
            alpha=2 * _tail(level)
        )
        return (
            np.asarray(frame["mean"], dtype=float),
            np.asarray(frame["pi_lower"], dtype=float),
            np.asarray(frame["pi_upper"], dtype=float),
        )

    def simulate(self, horizon: int, generator: np.random.Generator) -> "NDArray[np.float64]":
        paths = self.results.simulate(
            nsimulations=horizon,
            repetitions=SIMULATIONS,
            anchor="end",
            rng=generator,
        )
        return np.asarray(paths, dtype=float).reshape(horizon, SIMULATIONS)


class _Blend:
    """The mean of Holt-Winters' forecast and STL's, for long seasons.

    The two err differently: Holt-Winters follows the latest season closely and may
    pick the wrong kind of season; STL's season is a smooth average of all the
    history's. Their futures are Holt-Winters' simulated ones, each moved by the gap
    between the blend and Holt-Winters' own forecast; the intervals are their
    quantiles, so forecasts and simulated futures agree. One-step predictions (for
    anomalies) are Holt-Winters' alone: STL's decomposition of the history looks
    ahead as well as back, so it predicts nothing one step ahead.
    """

    def __init__(self, holt_winters: Any, stl: Any, seasonality: Seasonality) -> None:
        self.holt_winters = holt_winters
        self.stl = stl
        self.seasonality: Seasonality | None = seasonality
        self.fitted = np.asarray(holt_winters.fittedvalues, dtype=float)
        self.residuals = np.asarray(holt_winters.resid, dtype=float)

    def _futures(
        self, horizon: int, generator: np.random.Generator
    ) -> tuple["NDArray[np.float64]", "NDArray[np.float64]"]:
        with _quiet():
            own = np.asarray(self.holt_winters.forecast(horizon), dtype=float)
            mean = (own + np.asarray(self.stl.forecast(horizon), dtype=float)) / 2
            paths = self.holt_winters.simulate(
                horizon, anchor="end", repetitions=SIMULATIONS, error="add", rng=generator
            )
        paths = np.asarray(paths, dtype=float).reshape(horizon, SIMULATIONS)
        return mean, paths + (mean - own)[:, np.newaxis]

    def forecast(
        self, horizon: int, level: float
    ) -> tuple["NDArray[np.float64]", "NDArray[np.float64]", "NDArray[np.float64]"]:
        # The same seed as FittedModel.simulate: the intervals are those futures'.
        mean, paths = self._futures(horizon, np.random.default_rng(SIMULATION_SEED))
        tail = _tail(level)
        lower = np.quantile(paths, tail, axis=1)
        upper = np.quantile(paths, 1 - tail, axis=1)
        return mean, np.minimum(lower, mean), np.maximum(upper, mean)

    def simulate(self, horizon: int, generator: np.random.Generator) -> "NDArray[np.float64]":
        return self._futures(horizon, generator)[1]


class FittedModel:
    """A method fitted to a history; forecasts, simulated futures and one-step predictions."""

    def __init__(self, method: Method, history: "NDArray[np.float64]", results: Any) -> None:
        self.method = method
        self.history = history
        self._model: _Model | None = results  # None for naive
        residuals = np.diff(history) if self._model is None else self._model.residuals
        self.sigma = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0

    @property
    def seasonality(self) -> Seasonality | None:
        """Additive or multiplicative seasons; None without seasons."""
        return None if self._model is None else self._model.seasonality

    def forecast(self, horizon: int, level: float) -> Forecast:
        if self._model is None:
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
        mean, lower, upper = self._model.forecast(horizon, level)
        return Forecast(
            self.method,
            len(self.history),
            tuple(float(v) for v in mean),
            tuple(float(v) for v in lower),
            tuple(float(v) for v in upper),
        )

    def simulate(self, horizon: int) -> "NDArray[np.float64]":
        """SIMULATIONS possible futures of ``horizon`` buckets: shape (horizon, SIMULATIONS)."""
        generator = np.random.default_rng(SIMULATION_SEED)
        if self._model is None:
            steps = generator.normal(0.0, self.sigma, size=(horizon, SIMULATIONS))
            return float(self.history[-1]) + np.cumsum(steps, axis=0)
        return self._model.simulate(horizon, generator)

    def one_step_ahead(
        self, level: float, measured: Sequence[bool] | None = None
    ) -> list[OneStep | None]:
        """Per bucket of the history, what was expected of it from the ones before (None
        for the first bucket, which nothing came before).

        The interval's spread is estimated robustly (1.4826 times the median absolute
        one-step error, which equals the standard deviation for normal errors): a few
        outliers, the very things this is for, then cannot widen it enough to hide.
        ``measured`` (one flag per bucket) keeps the errors of buckets that only carry
        an earlier value out of that estimate: a level measured weekly repeats itself
        six days in seven, and those exact repeats would shrink the spread to nothing.
        """
        z = _z(level)
        expected = self.history[:-1] if self._model is None else self._model.fitted[1:]
        errors = self.history[1:] - expected
        if measured is not None:
            errors = errors[np.asarray(measured[1:], dtype=bool)]
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
    model: _Model
    try:
        if chosen is Method.SEASONAL and season_length and season_length >= LONG_SEASON:
            model = _fit_blend(values, season_length)
        else:
            model = _Ets(
                _fit_ets(values, chosen, season_length),
                Seasonality.ADDITIVE if chosen is Method.SEASONAL else None,
            )
    except (ValueError, np.linalg.LinAlgError, OverflowError, FloatingPointError):
        return FittedModel(Method.NAIVE, values, None)
    if not np.all(np.isfinite(model.fitted)):
        return FittedModel(Method.NAIVE, values, None)
    return FittedModel(chosen, values, model)


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
    with _quiet():
        return model.fit(disp=False)


def _fit_blend(values: "NDArray[np.float64]", season_length: int) -> _Blend:
    # Imported here, as in _fit_ets: loaded with the first forecast, not at startup.
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.stl import STLForecast  # type: ignore[import-untyped]
    from statsmodels.tsa.holtwinters import (  # type: ignore[import-untyped]
        ExponentialSmoothing,
    )

    # A multiplicative season scales with the level: meaningless unless every value is
    # above zero (and statsmodels refuses it otherwise).
    kinds = [Seasonality.ADDITIVE]
    if np.all(values > 0):
        kinds.append(Seasonality.MULTIPLICATIVE)
    fits = []
    with _quiet():
        for kind in kinds:
            model = ExponentialSmoothing(
                values,
                trend="add",
                damped_trend=True,
                seasonal="add" if kind is Seasonality.ADDITIVE else "mul",
                seasonal_periods=season_length,
                initialization_method="estimated",
                bounds={"damping_trend": DAMPING_RANGE},
            )
            fits.append((model.fit(), kind))
        stl = STLForecast(
            values,
            ETSModel,
            model_kwargs={
                "error": "add",
                "trend": "add",
                "damped_trend": True,
                "initialization_method": "heuristic",
                "bounds": {"damping_trend": DAMPING_RANGE},
            },
            period=season_length,
        ).fit(fit_kwargs={"disp": False})
    # The lower AICc wins; a tie (or none computable, on a very short history) keeps
    # the additive season, listed first.
    results, kind = min(fits, key=lambda fitted: _finite_or_inf(fitted[0].aicc))
    return _Blend(results, stl, kind)


def _finite_or_inf(value: float) -> float:
    return float(value) if math.isfinite(value) else math.inf


def probability_at_least(samples: "NDArray[np.float64]", threshold: float) -> float:
    return float(np.mean(samples >= threshold))
