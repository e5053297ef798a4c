"""Where objectives are likely to stand at the end of their due dates (DESIGN 8).

Plain arrays in, numbers out. Each key result comes as samples of its value at the
due date (simulated futures of its KPI, or draws around the trend of its
check-ins); every sample is scored by the key result's rule and rolled up through
the tree exactly as progress is, so an objective's samples are its possible
progress values and the share at or above the threshold is its probability of
being achieved.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from perfapi.domain.progress import (
    ACHIEVED_TOLERANCE,
    NOT_COUNTED,
    bottom_up,
    children_index,
)

Samples = NDArray[np.float64]


def key_result_samples(
    direction: str,
    values: Samples,
    start: float | None,
    target: float | None,
    range_min: float | None,
    range_max: float | None,
) -> Samples:
    """The progress of each sampled value, by the key result's rule (NaN: no data, 0)."""
    known = np.isfinite(values)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if direction in ("increase", "decrease"):
            if start is None or target is None or target == start:
                scores = np.zeros_like(values)
            else:
                scores = np.clip((values - start) / (target - start), 0.0, 1.0)
        elif direction in ("at_least", "at_most"):
            if target is None:
                scores = np.zeros_like(values)
            else:
                met = values >= target if direction == "at_least" else values <= target
                scores = met.astype(np.float64)
        elif direction == "within":
            if range_min is None or range_max is None:
                scores = np.zeros_like(values)
            else:
                scores = ((values >= range_min) & (values <= range_max)).astype(np.float64)
        else:
            raise ValueError(f"unknown key result direction {direction!r}")
    # Scores are clipped to [0, 1] or 0/1, so NaN (inf - inf, 0 * inf) is all to clear.
    return np.where(known & ~np.isnan(scores), scores, 0.0)


@dataclass(frozen=True)
class SampledObjective:
    id: UUID
    parent_id: UUID | None
    weight: float
    status: str
    key_results: Sequence[tuple[float, Samples]]  # (weight, progress samples)


def roll_up_samples(objectives: Sequence[SampledObjective]) -> dict[UUID, Samples | None]:
    """Progress samples of every objective (None when nothing measures it)."""
    children = children_index([o.id for o in objectives], [o.parent_id for o in objectives])
    progress: list[Samples | None] = [None] * len(objectives)
    for i in bottom_up(children):
        objective = objectives[i]
        terms = list(objective.key_results)
        for c in children[i]:
            child, child_progress = objectives[c], progress[c]
            if child_progress is not None and child.status not in NOT_COUNTED:
                terms.append((child.weight, child_progress))
        total = sum(weight for weight, _ in terms)
        if terms and total > 0:
            mean = sum(weight * samples for weight, samples in terms) / total
            progress[i] = np.clip(np.asarray(mean, dtype=np.float64), 0.0, 1.0)
    return {o.id: p for o, p in zip(objectives, progress, strict=True)}


@dataclass(frozen=True)
class Expectation:
    expected: float  # the mean
    lower: float
    upper: float
    probability: float  # of reaching the threshold


def expectation(samples: Samples, threshold: float, level: float = 0.8) -> Expectation:
    tail = (1 - level) / 2
    lower, upper = np.quantile(samples, (tail, 1 - tail))  # one sort for both
    return Expectation(
        expected=float(np.mean(samples)),
        lower=float(lower),
        upper=float(upper),
        probability=float(np.mean(samples >= threshold - ACHIEVED_TOLERANCE)),
    )


def trend_samples(
    days: Sequence[float], values: Sequence[float], at_day: float, simulations: int, seed: int
) -> Samples:
    """Draws of a checked-in value at ``at_day``: the least-squares line through the
    check-ins (flat at the last one with fewer than two), with the spread of the line's
    residuals; without a spread (two check-ins, or a perfect line) every draw is the line."""
    if not values:
        return np.full(simulations, np.nan)
    if len(values) < 2 or len(set(days)) < 2:
        return np.full(simulations, float(values[-1]))
    x = np.asarray(days, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    centre = float(slope * at_day + intercept)
    residuals = y - (slope * x + intercept)
    spread = float(np.sqrt(np.sum(residuals**2) / (len(y) - 2))) if len(y) > 2 else 0.0
    if not np.isfinite(centre):
        return np.full(simulations, float(values[-1]))
    if spread == 0 or not np.isfinite(spread):
        return np.full(simulations, centre)
    return np.random.default_rng(seed).normal(centre, spread, simulations)
