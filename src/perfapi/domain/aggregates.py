"""Mergeable summaries of KPI points and the aggregations and trend computed from them.

A ``Partial`` carries just enough to answer every aggregation and a least-squares
trend, and two partials combine into the partial of the union. That lets stored
rollups (per day, per month) and raw points be mixed freely when a range is read.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "last", "count"})

# The sums are taken around a fixed origin so partials stay mergeable, which costs
# precision when the points' x values are close together: below this relative spread
# the regression denominator is indistinguishable from rounding noise, and the line
# is treated as undefined (all x equal) rather than extrapolating noise.
_DEGENERATE_SPREAD = 1e-10


def days_since_epoch(ts: datetime) -> float:
    """Days from 2000-01-01T00:00Z to the aware instant ``ts`` (the regression's x)."""
    return (ts - EPOCH).total_seconds() / 86400


@dataclass(frozen=True, slots=True)
class Partial:
    """A mergeable summary of a set of points (ts, value)."""

    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    last_ts: datetime | None = None
    last_value: float | None = None
    sum_x: float = 0.0
    sum_xx: float = 0.0
    sum_xy: float = 0.0


EMPTY = Partial()


def partial_of(points: Iterable[tuple[datetime, float]]) -> Partial:
    """Summarise points; of several at the latest ts the later one in iteration wins."""
    count = 0
    total = sum_x = sum_xx = sum_xy = 0.0
    low: float | None = None
    high: float | None = None
    last_ts: datetime | None = None
    last_value: float | None = None
    for ts, value in points:
        x = days_since_epoch(ts)
        count += 1
        total += value
        sum_x += x
        sum_xx += x * x
        sum_xy += x * value
        low = value if low is None or value < low else low
        high = value if high is None or value > high else high
        if last_ts is None or ts >= last_ts:
            last_ts, last_value = ts, value
    if count == 0:
        return EMPTY
    return Partial(count, total, low, high, last_ts, last_value, sum_x, sum_xx, sum_xy)


def combine(parts: Iterable[Partial]) -> Partial:
    """The partial of the union; the last point is the one with the greatest last_ts."""
    count = 0
    total = sum_x = sum_xx = sum_xy = 0.0
    low: float | None = None
    high: float | None = None
    last_ts: datetime | None = None
    last_value: float | None = None
    for part in parts:
        if part.count == 0:
            continue
        count += part.count
        total += part.sum
        sum_x += part.sum_x
        sum_xx += part.sum_xx
        sum_xy += part.sum_xy
        if part.min is not None and (low is None or part.min < low):
            low = part.min
        if part.max is not None and (high is None or part.max > high):
            high = part.max
        if part.last_ts is not None and (last_ts is None or part.last_ts >= last_ts):
            last_ts, last_value = part.last_ts, part.last_value
    if count == 0:
        return EMPTY
    return Partial(count, total, low, high, last_ts, last_value, sum_x, sum_xx, sum_xy)


def aggregate(partial: Partial, aggregation: str) -> float | None:
    """One of sum, avg, min, max, last, count over the partial; None without points."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}")
    if partial.count == 0:
        return None
    if aggregation == "sum":
        return partial.sum
    if aggregation == "avg":
        return partial.sum / partial.count
    if aggregation == "min":
        return partial.min
    if aggregation == "max":
        return partial.max
    if aggregation == "last":
        return partial.last_value
    return float(partial.count)


class Summary(NamedTuple):
    """What the aggregations read of a set of points: a Partial without the trend sums.

    A tuple, not a dataclass: reports read thousands of them, one per KPI and month.
    """

    points: int  # "count" would hide tuple.count
    sum: float
    min: float | None
    max: float | None
    last_ts: datetime | None
    last_value: float | None


def aggregate_summaries(parts: Sequence[Summary], aggregation: str) -> float | None:
    """``aggregate(combine(parts), aggregation)``, reading only what the aggregation needs
    (the same sums, in the same order, so the same numbers)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}")
    parts = [part for part in parts if part.points]
    if not parts:
        return None
    if aggregation in ("sum", "avg"):
        total = 0.0
        for part in parts:
            total += part.sum
        return total if aggregation == "sum" else total / sum(part.points for part in parts)
    if aggregation == "count":
        return float(sum(part.points for part in parts))
    if aggregation == "min":
        return min((part.min for part in parts if part.min is not None), default=None)
    if aggregation == "max":
        return max((part.max for part in parts if part.max is not None), default=None)
    # The last point: of the parts with the greatest last_ts, the later one.
    last_ts: datetime | None = None
    last_value: float | None = None
    for part in parts:
        if part.last_ts is not None and (last_ts is None or part.last_ts >= last_ts):
            last_ts, last_value = part.last_ts, part.last_value
    return last_value


def trend_at(partial: Partial, at: datetime) -> float | None:
    """The least-squares line of value over x, evaluated at ``at``.

    None without points; the last value with a single point or when every point has
    the same x, where no line is defined.
    """
    n = partial.count
    if n == 0:
        return None
    if n < 2:
        return partial.last_value
    denominator = n * partial.sum_xx - partial.sum_x * partial.sum_x
    if denominator <= _DEGENERATE_SPREAD * n * partial.sum_xx:
        return partial.last_value
    slope = (n * partial.sum_xy - partial.sum_x * partial.sum) / denominator
    # Evaluating through the centroid avoids forming the intercept at x = 0, far from
    # the data, where rounding in the slope would be multiplied by ~10^4 days.
    mean_x = partial.sum_x / n
    mean_y = partial.sum / n
    return mean_y + slope * (days_since_epoch(at) - mean_x)
