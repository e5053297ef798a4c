"""Where a KPI's aggregation over a period is likely to end, from simulated futures.

Plain arrays in, numbers out. ``paths`` holds possible futures of the KPI's daily
aggregation for the rest of the period, shape (days, simulations); each is joined
to what the period already holds (``so_far``, its complete days) the way the
aggregation joins: sums and counts add up, min and max take the extreme, last takes
the final day, and avg weighs the days so far and the days ahead alike (the future
number of points per day is unknown).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from perfapi.domain.aggregates import Partial, aggregate

Samples = NDArray[np.float64]


@dataclass(frozen=True)
class OutlookValue:
    value: float  # the expectation (mean over the futures)
    lower: float
    upper: float
    probability: float  # that the target is met


def period_samples(
    so_far: Partial, days_so_far: int, aggregation: str, paths: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The period's aggregation in each simulated future: shape (simulations,)."""
    return np.asarray(_joined(so_far, days_so_far, aggregation, paths), dtype=np.float64)


def _joined(so_far: Partial, days_so_far: int, aggregation: str, paths: NDArray[np.float64]) -> Any:
    days, simulations = paths.shape
    if days == 0:
        done = aggregate(so_far, aggregation)
        return np.full(simulations, np.nan if done is None else done)
    if aggregation == "count":
        paths = np.maximum(paths, 0.0)  # a day cannot hold fewer than no points
    if aggregation in ("sum", "count"):
        already = so_far.sum if aggregation == "sum" else float(so_far.count)
        return already + paths.sum(axis=0)
    if aggregation == "avg":
        if so_far.count == 0 or days_so_far == 0:
            return paths.mean(axis=0)
        mean_so_far = so_far.sum / so_far.count
        return (mean_so_far * days_so_far + paths.sum(axis=0)) / (days_so_far + days)
    if aggregation == "min":
        ahead = paths.min(axis=0)
        return ahead if so_far.min is None else np.minimum(ahead, so_far.min)
    if aggregation == "max":
        ahead = paths.max(axis=0)
        return ahead if so_far.max is None else np.maximum(ahead, so_far.max)
    return paths[-1]  # last


def outlook(
    samples: NDArray[np.float64], target: float, direction: str, level: float = 0.8
) -> OutlookValue | None:
    """Mean, central interval at ``level`` and the probability of meeting the target
    (at least it when higher is better, at most it when lower is); None without data."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1 - level) / 2
    met = finite >= target if direction == "higher_is_better" else finite <= target
    # A certain outcome stays exact: the mean of a thousand equal floats need not be one.
    certain = bool(np.all(finite == finite[0]))
    lower, upper = np.quantile(finite, (tail, 1 - tail))  # one sort for both
    return OutlookValue(
        value=float(finite[0]) if certain else float(np.mean(finite)),
        lower=float(lower),
        upper=float(upper),
        probability=float(np.mean(met)),
    )
