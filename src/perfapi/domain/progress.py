"""Key-result progress and its weighted roll-up through the objective tree (DESIGN 5)."""

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

ACHIEVED_TOLERANCE = 1e-9
# Children in these states are planned or abandoned work: counting them would drag a
# parent's progress for reasons unrelated to the work being done.
NOT_COUNTED = frozenset({"cancelled", "draft"})


@dataclass(frozen=True, slots=True)
class Explain:
    """How a value was computed: a formula name and its JSON-serialisable inputs."""

    formula: str
    inputs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeyResultInput:
    id: UUID
    weight: float
    direction: str  # increase | decrease | at_least | at_most | within
    start_value: float | None
    target_value: float | None
    range_min: float | None
    range_max: float | None
    current_value: float | None
    source: str  # kpi | check_in | none


@dataclass(frozen=True, slots=True)
class KeyResultProgress:
    id: UUID
    current_value: float | None
    progress: float
    explain: Explain


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def key_result_progress(kr: KeyResultInput) -> KeyResultProgress:
    """Progress in [0, 1] of one key result; 0 when it has no current value."""
    current = kr.current_value
    formula, progress, ratio = _rule(
        kr.direction, current, kr.start_value, kr.target_value, kr.range_min, kr.range_max
    )
    inputs: dict[str, Any] = {
        "direction": kr.direction,
        "current": current,
        "start": kr.start_value,
        "target": kr.target_value,
        "range_min": kr.range_min,
        "range_max": kr.range_max,
        "source": kr.source,
    }
    if formula == "linear":
        # Overflows to an infinity when target - start is tiny: still past either end.
        inputs["ratio"] = ratio if ratio is not None and math.isfinite(ratio) else None
    return KeyResultProgress(kr.id, current, progress, Explain(formula, inputs))


def key_result_score(
    direction: str,
    current: float | None,
    start: float | None,
    target: float | None,
    range_min: float | None,
    range_max: float | None,
) -> float:
    """The progress :func:`key_result_progress` computes, without its explanation.

    The same rules as :func:`_rule`, written out flat: lists and reports score every key
    result of the org on each read, and the explanation's tuple and calls cost more than
    the arithmetic. Tests hold the two to the same numbers.
    """
    if current is None:
        return 0.0
    if direction == "increase" or direction == "decrease":
        if start is None or target is None or target == start:
            return 0.0
        ratio = (current - start) / (target - start)
        # _clamp's result, NaN (0) included.
        return ratio if 0.0 < ratio < 1.0 else 1.0 if ratio >= 1.0 else 0.0
    if direction == "at_least":
        return 0.0 if target is None or not current >= target else 1.0
    if direction == "at_most":
        return 0.0 if target is None or not current <= target else 1.0
    if direction == "within":
        if range_min is None or range_max is None:
            return 0.0
        return 1.0 if range_min <= current <= range_max else 0.0
    raise ValueError(f"unknown key result direction {direction!r}")


def _rule(
    direction: str,
    current: float | None,
    start: float | None,
    target: float | None,
    range_min: float | None,
    range_max: float | None,
) -> tuple[str, float, float | None]:
    """(formula, progress, unclamped ratio of the linear rule) of one key result."""
    if current is None:
        return "no_data", 0.0, None
    if direction in ("increase", "decrease"):
        # Validation on write guarantees start and target differ; a row that slipped
        # past it scores 0 with an explanation instead of failing the whole report.
        if start is None or target is None or target == start:
            return "undefined", 0.0, None
        ratio = (current - start) / (target - start)
        return "linear", _clamp(ratio), ratio
    if direction in ("at_least", "at_most"):
        if target is None:
            return "undefined", 0.0, None
        met = current >= target if direction == "at_least" else current <= target
        return direction, 1.0 if met else 0.0, None
    if direction == "within":
        if range_min is None or range_max is None:
            return "undefined", 0.0, None
        return "within", 1.0 if range_min <= current <= range_max else 0.0, None
    raise ValueError(f"unknown key result direction {direction!r}")


@dataclass(frozen=True, slots=True)
class ObjectiveInput:
    id: UUID
    parent_id: UUID | None
    weight: float
    status: str  # draft | active | closed | cancelled
    key_results: tuple[KeyResultInput, ...]


@dataclass(frozen=True, slots=True)
class ObjectiveProgress:
    id: UUID
    progress: float | None
    achieved: bool | None
    explain: Explain
    key_results: tuple[KeyResultProgress, ...]
    children: tuple["ObjectiveProgress", ...]


def children_index(ids: Sequence[UUID], parents: Sequence[UUID | None]) -> list[list[int]]:
    """For each position, the positions of its children in input order.

    A parent id absent from ``ids`` makes a root. Raises ValueError on duplicate ids.
    """
    position: dict[UUID, int] = {}
    for i, node_id in enumerate(ids):
        if node_id in position:
            raise ValueError(f"duplicate objective id {node_id}")
        position[node_id] = i
    children: list[list[int]] = [[] for _ in ids]
    for i, parent in enumerate(parents):
        if parent is not None and parent in position:
            children[position[parent]].append(i)
    return children


def bottom_up(children: Sequence[Sequence[int]]) -> list[int]:
    """Positions ordered so every node comes after all of its children.

    Iterative (Kahn's algorithm on the reversed edges), so deep trees cannot hit the
    recursion limit. A cycle leaves nodes that never become ready: ValueError.
    """
    parent_of = [-1] * len(children)
    for parent, kids in enumerate(children):
        for kid in kids:
            parent_of[kid] = parent
    waiting = [len(kids) for kids in children]
    ready = deque(i for i, n in enumerate(waiting) if n == 0)
    order: list[int] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        parent = parent_of[node]
        if parent >= 0:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    if len(order) != len(children):
        raise ValueError("the objective tree contains a cycle")
    return order


def roll_up(
    objectives: Sequence[ObjectiveInput], threshold: float = 1.0
) -> dict[UUID, ObjectiveProgress]:
    """Progress of every objective given: the weighted mean of its KRs and counted children."""
    children = children_index([o.id for o in objectives], [o.parent_id for o in objectives])
    results: list[ObjectiveProgress | None] = [None] * len(objectives)
    for i in bottom_up(children):
        kids = [(objectives[c], _done(results[c])) for c in children[i]]
        results[i] = _objective_progress(objectives[i], kids, threshold)
    return {o.id: _done(results[i]) for i, o in enumerate(objectives)}


def _objective_progress(
    objective: ObjectiveInput,
    kids: Sequence[tuple[ObjectiveInput, ObjectiveProgress]],
    threshold: float,
) -> ObjectiveProgress:
    krs = tuple(key_result_progress(kr) for kr in objective.key_results)
    terms: list[dict[str, Any]] = [
        {"kind": "key_result", "id": str(kp.id), "weight": kr.weight, "progress": kp.progress}
        for kr, kp in zip(objective.key_results, krs, strict=True)
    ]
    excluded: list[dict[str, Any]] = []
    for child, outcome in kids:
        if child.status in NOT_COUNTED:
            excluded.append({"id": str(child.id), "reason": child.status})
        elif outcome.progress is None:
            excluded.append({"id": str(child.id), "reason": "unmeasured"})
        else:
            term = {"kind": "objective", "id": str(child.id), "weight": child.weight}
            terms.append({**term, "progress": outcome.progress})
    progress = _weighted_mean(terms)
    explain = Explain(
        "unmeasured" if progress is None else "weighted_mean",
        {"terms": terms, "excluded": excluded},
    )
    achieved = None if progress is None else progress >= threshold - ACHIEVED_TOLERANCE
    children = tuple(outcome for _, outcome in kids)
    return ObjectiveProgress(objective.id, progress, achieved, explain, krs, children)


def _done(result: ObjectiveProgress | None) -> ObjectiveProgress:
    # bottom_up guarantees children are computed first; this only narrows the type.
    assert result is not None
    return result


def _weighted_mean(terms: Sequence[dict[str, Any]]) -> float | None:
    return _mean(
        [float(t["weight"]) for t in terms],
        [float(t["weight"]) * float(t["progress"]) for t in terms],
    )


def _mean(weights: Sequence[float], weighted: Sequence[float]) -> float | None:
    """sum(weighted) / sum(weights); None without weight.

    fsum is exactly rounded, so the result does not depend on the order of the terms:
    :func:`roll_up` and :func:`roll_up_scores` list them differently and agree.
    """
    total_weight = math.fsum(weights)
    if not weights or total_weight <= 0:
        return None
    # Every term lies in [0, 1]; clamping removes rounding that could push the mean a
    # hair outside and flip ``achieved`` at threshold 1.
    return _clamp(math.fsum(weighted) / total_weight)


class ScoredObjective(NamedTuple):
    """An objective for :func:`roll_up_scores`, its key results already scored."""

    id: UUID
    parent_id: UUID | None
    weight: float
    status: str
    weights: Sequence[float]  # of its key results
    weighted: Sequence[float]  # weight * progress of each key result, in the same order


def roll_up_scores(
    objectives: Sequence[ScoredObjective], threshold: float = 1.0
) -> dict[UUID, tuple[float | None, bool | None]]:
    """(progress, achieved) of every objective given, as :func:`roll_up` computes them.

    Without the explanations: reports and lists that show only the numbers then
    cost a few float operations per key result instead of a dict and two objects.
    """
    children = children_index([o.id for o in objectives], [o.parent_id for o in objectives])
    progress: list[float | None] = [None] * len(objectives)
    for i in bottom_up(children):
        objective = objectives[i]
        weights, weighted = objective.weights, objective.weighted
        if children[i]:
            weights, weighted = list(weights), list(weighted)  # the caller's stay as given
            for c in children[i]:
                child, child_progress = objectives[c], progress[c]
                if child_progress is not None and child.status not in NOT_COUNTED:
                    weights.append(child.weight)
                    weighted.append(child.weight * child_progress)
        progress[i] = _mean(weights, weighted)
    floor = threshold - ACHIEVED_TOLERANCE
    return {
        o.id: (p, None if p is None else p >= floor)
        for o, p in zip(objectives, progress, strict=True)
    }
