import numpy as np
import pytest

from perfapi.domain.aggregates import Partial
from perfapi.domain.outlook import outlook, period_samples

PATHS = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])  # 2 days ahead, 3 futures


def test_sums_and_counts_add_the_futures_to_what_is_there() -> None:
    so_far = Partial(count=4, sum=10.0, min=1.0, max=5.0)
    assert list(period_samples(so_far, 2, "sum", PATHS)) == [12.0, 14.0, 16.0]
    assert list(period_samples(so_far, 2, "count", PATHS)) == [6.0, 8.0, 10.0]
    negative = np.array([[-3.0, 1.0]])
    assert list(period_samples(so_far, 2, "count", negative)) == [4.0, 5.0]


def test_levels_join_as_their_aggregation_does() -> None:
    so_far = Partial(count=4, sum=10.0, min=1.5, max=2.5)
    assert list(period_samples(so_far, 2, "min", PATHS)) == [1.0, 1.5, 1.5]
    assert list(period_samples(so_far, 2, "max", PATHS)) == [2.5, 2.5, 3.0]
    assert list(period_samples(so_far, 2, "last", PATHS)) == [1.0, 2.0, 3.0]
    # avg: 2.5 a day for 2 days, then the futures' days weigh alike.
    assert list(period_samples(so_far, 2, "avg", PATHS)) == [1.75, 2.25, 2.75]
    assert list(period_samples(Partial(), 0, "avg", PATHS)) == [1.0, 2.0, 3.0]


def test_a_period_that_is_over_is_what_it_holds() -> None:
    so_far = Partial(count=2, sum=7.0, min=3.0, max=4.0)
    done = period_samples(so_far, 30, "sum", np.empty((0, 5)))
    assert list(done) == [7.0] * 5
    assert outlook(done, 7.0, "higher_is_better") == pytest.approx(
        outlook(np.array([7.0]), 7.0, "higher_is_better")
    )
    assert (
        outlook(period_samples(Partial(), 30, "sum", np.empty((0, 5))), 1.0, "higher_is_better")
        is None
    )


def test_the_outlook_is_the_mean_a_central_interval_and_the_chance_of_the_target() -> None:
    samples = np.arange(1.0, 101.0)  # 1 .. 100
    higher = outlook(samples, 81.0, "higher_is_better", level=0.8)
    assert higher is not None
    assert higher.value == pytest.approx(50.5)
    assert higher.lower == pytest.approx(10.9)
    assert higher.upper == pytest.approx(90.1)
    assert higher.probability == pytest.approx(0.2)
    lower = outlook(samples, 20.0, "lower_is_better")
    assert lower is not None
    assert lower.probability == pytest.approx(0.2)
