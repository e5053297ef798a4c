"""Goal-achievement rate over objectives due in a window (DESIGN 5)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple
from uuid import UUID

# Drafts were never committed to and cancelled goals were abandoned on purpose; neither
# says anything about how often committed goals are reached.
_COUNTED_STATUSES = frozenset({"active", "closed"})


class Outcome(NamedTuple):
    """An objective's progress as the rate counts it. A tuple: a report builds one per
    objective, thousands, and a frozen dataclass costs twice as much to build."""

    id: UUID
    status: str
    due_date: date
    progress: float | None
    achieved: bool | None


@dataclass(frozen=True, slots=True)
class AchievementRate:
    objectives_total: int
    measured: int
    achieved: int
    rate: float | None


def counted(outcome: Outcome, start: date, end: date) -> bool:
    """Whether the objective takes part: active or closed, due in [start, end] inclusive."""
    return takes_part(outcome.status, outcome.due_date, start, end)


def takes_part(status: str, due_date: date, start: date, end: date) -> bool:
    """:func:`counted`, for an objective whose progress is not known yet."""
    return status in _COUNTED_STATUSES and start <= due_date <= end


def goal_achievement(outcomes: Iterable[Outcome], start: date, end: date) -> AchievementRate:
    """achieved / measured over the counted objectives; rate None when none is measured."""
    total = measured = achieved = 0
    for outcome in outcomes:
        if not counted(outcome, start, end):
            continue
        total += 1
        if outcome.progress is None:
            continue
        measured += 1
        # Only measured objectives can be achieved, so the rate never exceeds 1 even if
        # a caller passes an inconsistent (progress None, achieved True) pair.
        if outcome.achieved:
            achieved += 1
    rate = achieved / measured if measured else None
    return AchievementRate(total, measured, achieved, rate)
