import json
import time
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfapi.domain.progress import (
    KeyResultInput,
    ObjectiveInput,
    ScoredObjective,
    key_result_progress,
    key_result_score,
    roll_up,
    roll_up_scores,
)


def kr(
    direction: str = "increase",
    *,
    current: float | None = None,
    start: float | None = None,
    target: float | None = None,
    low: float | None = None,
    high: float | None = None,
    weight: float = 1.0,
) -> KeyResultInput:
    source = "none" if current is None else "check_in"
    return KeyResultInput(uuid4(), weight, direction, start, target, low, high, current, source)


def done(progress: float, weight: float = 1.0) -> KeyResultInput:
    """A key result at exactly ``progress`` (increase from 0 to 1)."""
    return kr(current=progress, start=0.0, target=1.0, weight=weight)


def objective(
    *krs: KeyResultInput,
    parent: UUID | None = None,
    weight: float = 1.0,
    status: str = "active",
) -> ObjectiveInput:
    return ObjectiveInput(uuid4(), parent, weight, status, tuple(krs))


@pytest.mark.parametrize(
    ("key_result", "progress", "ratio"),
    [
        (kr(current=15, start=10, target=20), 0.5, 0.5),  # (15-10)/(20-10)
        (kr(current=25, start=10, target=20), 1.0, 1.5),  # over-achieved, clamped
        (kr(current=5, start=10, target=20), 0.0, -0.5),  # went backwards, clamped
        (kr("decrease", current=80, start=100, target=50), 0.4, 0.4),  # (80-100)/(50-100)
        (kr("decrease", current=40, start=100, target=50), 1.0, 1.2),
    ],
)
def test_linear_progress(key_result: KeyResultInput, progress: float, ratio: float) -> None:
    result = key_result_progress(key_result)
    assert result.progress == pytest.approx(progress)
    assert result.explain.formula == "linear"
    assert result.explain.inputs["ratio"] == pytest.approx(ratio)
    assert result.current_value == key_result.current_value


@pytest.mark.parametrize(
    ("key_result", "progress"),
    [
        (kr("at_least", current=10, target=10), 1.0),
        (kr("at_least", current=9.99, target=10), 0.0),
        (kr("at_most", current=5, target=5), 1.0),
        (kr("at_most", current=6, target=5), 0.0),
        (kr("within", current=1, low=1, high=3), 1.0),
        (kr("within", current=3, low=1, high=3), 1.0),
        (kr("within", current=3.5, low=1, high=3), 0.0),
        (kr("within", current=0.5, low=1, high=3), 0.0),
    ],
)
def test_threshold_progress(key_result: KeyResultInput, progress: float) -> None:
    result = key_result_progress(key_result)
    assert result.progress == progress
    assert result.explain.formula == key_result.direction


def test_no_data_is_zero() -> None:
    result = key_result_progress(kr(start=0, target=10))
    assert (result.progress, result.current_value) == (0.0, None)
    assert result.explain.formula == "no_data"
    assert result.explain.inputs["source"] == "none"


def test_explain_carries_the_inputs_and_serialises() -> None:
    key_result = KeyResultInput(uuid4(), 2.0, "increase", 10, 20, None, None, 12.5, "kpi")
    inputs = key_result_progress(key_result).explain.inputs
    assert inputs == {
        "direction": "increase",
        "current": 12.5,
        "start": 10,
        "target": 20,
        "range_min": None,
        "range_max": None,
        "source": "kpi",
        "ratio": 0.25,
    }
    json.dumps(inputs)


@pytest.mark.parametrize(
    "key_result",
    [
        kr(current=5, target=10),
        kr(current=5, start=10, target=10),
        kr("at_least", current=5),
        kr("within", current=5, low=1),
    ],
)
def test_incomplete_definition_scores_zero(key_result: KeyResultInput) -> None:
    result = key_result_progress(key_result)
    assert (result.progress, result.explain.formula) == (0.0, "undefined")


def test_unknown_direction_is_rejected() -> None:
    with pytest.raises(ValueError, match="sideways"):
        key_result_progress(kr("sideways", current=1, target=2))


def test_roll_up_worked_example() -> None:
    root = objective(done(0.5, weight=1), done(1.0, weight=3))
    child = objective(done(0.25), parent=root.id, weight=2)
    cancelled = objective(done(1.0), parent=root.id, status="cancelled")
    draft = objective(done(1.0), parent=root.id, status="draft")
    empty = objective(parent=root.id)
    inputs = [root, child, cancelled, draft, empty]
    result = roll_up(inputs)

    # (1 * 0.5 + 3 * 1.0 + 2 * 0.25) / (1 + 3 + 2) = 4 / 6
    top = result[root.id]
    assert top.progress == pytest.approx(2 / 3)
    assert top.achieved is False
    assert [c.id for c in top.children] == [child.id, cancelled.id, draft.id, empty.id]
    assert top.explain.formula == "weighted_mean"
    assert top.explain.inputs["terms"][2:] == [
        {"kind": "objective", "id": str(child.id), "weight": 2, "progress": 0.25}
    ]
    assert [t["kind"] for t in top.explain.inputs["terms"]] == ["key_result"] * 2 + ["objective"]
    assert top.explain.inputs["excluded"] == [
        {"id": str(cancelled.id), "reason": "cancelled"},
        {"id": str(draft.id), "reason": "draft"},
        {"id": str(empty.id), "reason": "unmeasured"},
    ]
    json.dumps(top.explain.inputs)
    # Every objective gets a result, excluded ones included.
    assert set(result) == {o.id for o in inputs}
    assert result[cancelled.id].progress == 1.0
    assert result[cancelled.id].achieved is True
    assert result[empty.id].progress is None
    assert result[empty.id].achieved is None
    assert result[empty.id].explain.formula == "unmeasured"
    assert roll_up(inputs, threshold=0.6)[root.id].achieved is True


def test_key_result_without_data_counts_as_zero() -> None:
    single = objective(kr(start=0, target=1), done(1.0))
    assert roll_up([single])[single.id].progress == 0.5  # (0 + 1) / 2


def test_parent_outside_the_input_makes_a_root() -> None:
    orphan = objective(done(0.3), parent=uuid4())
    assert roll_up([orphan])[orphan.id].progress == pytest.approx(0.3)


def test_only_unmeasured_children_leave_the_parent_unmeasured() -> None:
    parent = objective()
    child = objective(parent=parent.id)
    result = roll_up([child, parent])
    assert result[parent.id].progress is None
    assert result[parent.id].explain.inputs["excluded"] == [
        {"id": str(child.id), "reason": "unmeasured"}
    ]


def test_achieved_tolerance() -> None:
    near = objective(done(0.7 - 1e-12))
    short = objective(done(0.7 - 1e-6))
    result = roll_up([near, short], threshold=0.7)
    assert result[near.id].achieved is True
    assert result[short.id].achieved is False


def test_cycle_and_duplicates_are_rejected() -> None:
    a, b = uuid4(), uuid4()
    loop = [ObjectiveInput(a, b, 1, "active", ()), ObjectiveInput(b, a, 1, "active", ())]
    with pytest.raises(ValueError, match="cycle"):
        roll_up(loop)
    same = objective(done(1.0))
    with pytest.raises(ValueError, match="duplicate"):
        roll_up([same, same])


def test_deep_chain_does_not_recurse() -> None:
    chain = [objective(done(0.5))]
    for _ in range(5000):
        chain.append(objective(parent=chain[-1].id))
    # The leaf's 0.5 reaches the root through 5000 single-child levels.
    assert roll_up(chain)[chain[0].id].progress == 0.5


def test_ten_thousand_nodes_at_depth_one_hundred_is_fast() -> None:
    nodes: list[ObjectiveInput] = []
    spine: list[ObjectiveInput] = []
    for _ in range(100):
        node = objective(done(1.0), parent=spine[-1].id if spine else None)
        spine.append(node)
        nodes.append(node)
    while len(nodes) < 10_000:
        nodes.append(objective(done(0.0), parent=spine[len(nodes) % 100].id))
    begin = time.perf_counter()
    result = roll_up(nodes)
    assert time.perf_counter() - begin < 5
    assert len(result) == 10_000
    assert all(0 <= p.progress <= 1 for p in result.values() if p.progress is not None)


@st.composite
def forests(draw: st.DrawFn) -> list[ObjectiveInput]:
    size = draw(st.integers(min_value=1, max_value=25))
    nodes: list[ObjectiveInput] = []
    for i in range(size):
        parent = draw(st.none() | st.integers(min_value=0, max_value=i - 1)) if i else None
        key_results = draw(
            st.lists(
                st.builds(
                    lambda p, w: kr(current=p, start=0.0, target=1.0, weight=w),
                    st.none() | st.floats(min_value=-1, max_value=2),
                    st.floats(min_value=0.1, max_value=10),
                ),
                max_size=3,
            )
        )
        nodes.append(
            ObjectiveInput(
                uuid4(),
                None if parent is None else nodes[parent].id,
                draw(st.floats(min_value=0.1, max_value=10)),
                draw(st.sampled_from(["draft", "active", "closed", "cancelled"])),
                tuple(key_results),
            )
        )
    return draw(st.permutations(nodes))


@settings(max_examples=150)
@given(forests(), st.floats(min_value=0.01, max_value=1.0))
def test_roll_up_properties(nodes: list[ObjectiveInput], threshold: float) -> None:
    result = roll_up(nodes, threshold)
    by_id = {n.id: n for n in nodes}
    assert set(result) == set(by_id)
    for node in nodes:
        out = result[node.id]
        assert [c.id for c in out.children] == [n.id for n in nodes if n.parent_id == node.id]
        pairs = [
            (k.weight, p.progress) for k, p in zip(node.key_results, out.key_results, strict=True)
        ]
        pairs += [
            (by_id[c.id].weight, c.progress)
            for c in out.children
            if by_id[c.id].status in ("active", "closed") and c.progress is not None
        ]
        if not pairs:
            assert (out.progress, out.achieved) == (None, None)
            continue
        assert out.progress is not None
        mean = sum(w * p for w, p in pairs) / sum(w for w, _ in pairs)
        assert out.progress == pytest.approx(mean, abs=1e-12)
        assert 0.0 <= out.progress <= 1.0
        assert out.achieved == (out.progress >= threshold - 1e-9)
    # Input order only changes the order of children, never a number.
    again = roll_up(list(reversed(nodes)), threshold)
    assert {k: v.progress for k, v in again.items()} == {k: v.progress for k, v in result.items()}


def test_a_ratio_that_overflows_is_clamped_and_explained_as_none() -> None:
    # target - start is the smallest double: the ratio is past 1 by far, not a number.
    result = key_result_progress(kr("increase", start=0.0, target=5e-324, current=1e15))
    assert result.progress == 1.0
    assert result.explain.inputs["ratio"] is None


def scored(nodes: list[ObjectiveInput]) -> list[ScoredObjective]:
    """The same objectives for roll_up_scores: key results scored without explanations."""
    objectives = []
    for node in nodes:
        scores = [
            key_result_score(
                k.direction,
                k.current_value,
                k.start_value,
                k.target_value,
                k.range_min,
                k.range_max,
            )
            for k in node.key_results
        ]
        objectives.append(
            ScoredObjective(
                node.id,
                node.parent_id,
                node.weight,
                node.status,
                [k.weight for k in node.key_results],
                [k.weight * score for k, score in zip(node.key_results, scores, strict=True)],
            )
        )
    return objectives


@settings(max_examples=150)
@given(forests(), st.floats(min_value=0.01, max_value=1.0))
def test_scores_are_the_explained_numbers(nodes: list[ObjectiveInput], threshold: float) -> None:
    explained = roll_up(nodes, threshold)
    scores = roll_up_scores(scored(nodes), threshold)
    # Equal, not approximately: both are exactly rounded sums of the same products.
    assert scores == {k: (v.progress, v.achieved) for k, v in explained.items()}


@pytest.mark.parametrize(
    "key_result",
    [
        kr(current=15, start=10, target=20),
        kr("decrease", current=40, start=100, target=50),
        kr("at_least", current=9.99, target=10),
        kr("at_most", current=5, target=5),
        kr("within", current=3.5, low=1, high=3),
        kr("within", current=5, low=1),
        kr(start=0, target=10),
        kr("increase", start=0.0, target=5e-324, current=1e15),
    ],
)
def test_score_is_the_explained_progress(key_result: KeyResultInput) -> None:
    score = key_result_score(
        key_result.direction,
        key_result.current_value,
        key_result.start_value,
        key_result.target_value,
        key_result.range_min,
        key_result.range_max,
    )
    assert score == key_result_progress(key_result).progress


def test_score_rejects_an_unknown_direction() -> None:
    with pytest.raises(ValueError, match="sideways"):
        key_result_score("sideways", 1.0, None, 2.0, None, None)


_ANY_VALUE = (
    st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1.0])
)


@settings(max_examples=500)
@given(
    st.sampled_from(["increase", "decrease", "at_least", "at_most", "within"]),
    _ANY_VALUE,
    _ANY_VALUE,
    _ANY_VALUE,
    _ANY_VALUE,
    _ANY_VALUE,
)
def test_any_score_is_the_explained_progress(
    direction: str,
    current: float | None,
    start: float | None,
    target: float | None,
    low: float | None,
    high: float | None,
) -> None:
    # key_result_score writes the rules out again for speed: NaNs, infinities and
    # missing values included, it must give the explained number.
    key_result = kr(direction, current=current, start=start, target=target, low=low, high=high)
    score = key_result_score(direction, current, start, target, low, high)
    assert score == key_result_progress(key_result).progress
