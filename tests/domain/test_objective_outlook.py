import uuid

import numpy as np
import pytest

from perfapi.domain.objective_outlook import (
    SampledObjective,
    expectation,
    key_result_samples,
    roll_up_samples,
    trend_samples,
)
from perfapi.domain.progress import key_result_score

VALUES = np.array([np.nan, -5.0, 0.0, 5.0, 10.0, 15.0])


@pytest.mark.parametrize(
    ("direction", "start", "target", "low", "high"),
    [
        ("increase", 0.0, 10.0, None, None),
        ("decrease", 10.0, 0.0, None, None),
        ("at_least", None, 5.0, None, None),
        ("at_most", None, 5.0, None, None),
        ("within", None, None, 0.0, 10.0),
        ("increase", 5.0, 5.0, None, None),
        ("at_least", None, None, None, None),
    ],
)
def test_samples_are_scored_by_the_key_results_own_rule(
    direction: str, start: float | None, target: float | None, low: float | None, high: float | None
) -> None:
    scores = key_result_samples(direction, VALUES, start, target, low, high)
    expected = [
        key_result_score(direction, None if np.isnan(v) else float(v), start, target, low, high)
        for v in VALUES
    ]
    assert list(scores) == expected


def test_samples_roll_up_through_the_tree_as_progress_does() -> None:
    root, child, draft = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rolled = roll_up_samples(
        [
            SampledObjective(root, None, 1.0, "active", [(1.0, np.array([0.0, 1.0]))]),
            SampledObjective(child, root, 3.0, "active", [(1.0, np.array([1.0, 1.0]))]),
            SampledObjective(draft, root, 5.0, "draft", [(1.0, np.array([0.0, 0.0]))]),
        ]
    )
    assert list(rolled[child]) == [1.0, 1.0]  # type: ignore[arg-type]
    assert list(rolled[root]) == [0.75, 1.0]  # type: ignore[arg-type]
    lonely = uuid.uuid4()
    assert roll_up_samples([SampledObjective(lonely, None, 1.0, "active", [])])[lonely] is None


def test_the_expectation_is_a_mean_an_interval_and_a_probability() -> None:
    samples = np.linspace(0.0, 1.0, 101)
    found = expectation(samples, 0.7)
    assert found.expected == pytest.approx(0.5)
    assert found.lower == pytest.approx(0.1)
    assert found.upper == pytest.approx(0.9)
    assert found.probability == pytest.approx(31 / 101)  # 0.70 .. 1.00


def test_check_ins_are_extrapolated_along_their_line() -> None:
    assert (
        list(trend_samples([], [], 10, 3, 1)) == []
        or np.isnan(trend_samples([], [], 10, 3, 1)).all()
    )
    assert list(trend_samples([0.0], [4.0], 10, 3, 1)) == [4.0, 4.0, 4.0]
    assert list(trend_samples([0.0, 10.0], [0.0, 5.0], 20, 2, 1)) == pytest.approx([10.0, 10.0])
    noisy = trend_samples([0.0, 10.0, 20.0, 30.0], [0.0, 6.0, 9.0, 15.0], 40, 2000, 1)
    assert float(np.mean(noisy)) == pytest.approx(19.5, abs=0.3)
    assert float(np.std(noisy)) > 0.5
    assert np.array_equal(
        noisy, trend_samples([0.0, 10.0, 20.0, 30.0], [0.0, 6.0, 9.0, 15.0], 40, 2000, 1)
    )
