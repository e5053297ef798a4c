from datetime import date
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfapi.domain.achievement import AchievementRate, Outcome, counted, goal_achievement

Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def outcome(
    status: str, due: date, progress: float | None, achieved: bool | None = None
) -> Outcome:
    if achieved is None and progress is not None:
        achieved = progress >= 1.0
    return Outcome(uuid4(), status, due, progress, achieved)


def test_worked_example() -> None:
    outcomes = [
        outcome("active", date(2026, 1, 1), 1.0),  # first day of the window: achieved
        outcome("closed", date(2026, 3, 31), 0.4),  # last day: measured, not achieved
        outcome("active", date(2026, 2, 15), None),  # unmeasured: counted, not measured
        outcome("cancelled", date(2026, 2, 1), 1.0),  # cancelled: not counted
        outcome("draft", date(2026, 2, 1), 1.0),  # draft: not counted
        outcome("active", date(2026, 4, 1), 1.0),  # due after the window
        outcome("active", date(2025, 12, 31), 1.0),  # due before the window
    ]
    # total 3, measured 2, achieved 1: rate 1 / 2
    assert goal_achievement(outcomes, *Q1) == AchievementRate(3, 2, 1, 0.5)


def test_nothing_measured_has_no_rate() -> None:
    outcomes = [outcome("active", date(2026, 2, 1), None)]
    assert goal_achievement(outcomes, *Q1) == AchievementRate(1, 0, 0, None)
    assert goal_achievement([], *Q1) == AchievementRate(0, 0, 0, None)


def test_threshold_comes_from_achieved() -> None:
    # With a 0.7 threshold the roll-up marks 0.75 achieved; the rate just counts flags.
    outcomes = [
        outcome("active", date(2026, 2, 1), 0.75, achieved=True),
        outcome("active", date(2026, 2, 2), 0.5, achieved=False),
        outcome("closed", date(2026, 2, 3), 0.9, achieved=True),
    ]
    assert goal_achievement(outcomes, *Q1).rate == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("status", "due", "expected"),
    [
        ("active", date(2026, 1, 1), True),
        ("closed", date(2026, 3, 31), True),
        ("active", date(2026, 4, 1), False),
        ("cancelled", date(2026, 2, 1), False),
        ("draft", date(2026, 2, 1), False),
    ],
)
def test_counted(status: str, due: date, expected: bool) -> None:
    assert counted(outcome(status, due, None), *Q1) is expected


outcomes = st.builds(
    lambda status, due, progress, threshold: outcome(
        status, due, progress, None if progress is None else progress >= threshold
    ),
    st.sampled_from(["draft", "active", "closed", "cancelled"]),
    st.dates(min_value=date(2025, 10, 1), max_value=date(2026, 6, 30)),
    st.none() | st.floats(min_value=0, max_value=1),
    st.floats(min_value=0.01, max_value=1),
)


@given(st.lists(outcomes, max_size=40))
def test_rate_properties(items: list[Outcome]) -> None:
    result = goal_achievement(items, *Q1)
    assert 0 <= result.achieved <= result.measured <= result.objectives_total
    assert result.objectives_total == sum(counted(o, *Q1) for o in items)
    if result.measured:
        assert result.rate == result.achieved / result.measured
    else:
        assert result.rate is None
