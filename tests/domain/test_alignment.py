from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfapi.domain.alignment import AlignmentObjective, AlignmentReport, alignment


def node(
    *kpis: UUID, parent: UUID | None = None, weight: float = 1.0, status: str = "active"
) -> AlignmentObjective:
    return AlignmentObjective(uuid4(), parent, weight, status, frozenset(kpis))


def test_worked_example() -> None:
    k1, k2, k3, k4 = (uuid4() for _ in range(4))
    r = node()  # root, not measured itself
    a = node(k1, parent=r.id, weight=3)  # directly measured: 1
    b = node(parent=r.id)  # leaf without KPIs: 0
    s = node(k2)  # a measured root: 1
    c = node(k3, status="cancelled")  # not active: ignored, and so is its KPI
    d = node(parent=c.id, weight=2)  # parent not active: a root; a bare leaf scores 0
    result = alignment([r, a, b, s, c, d], [k1, k2, k3, k4])
    # r = (3 * 1 + 1 * 0) / 4 = 0.75; roots r, s, d: (1 * 0.75 + 1 * 1 + 2 * 0) / 4 = 0.4375
    assert result == AlignmentReport(
        objectives_total=5,
        aligned=3,  # r (through a), a, s
        coverage=0.6,
        alignment_score=0.4375,
        kpis_total=4,
        kpis_linked=2,
        kpi_utilization=0.5,
        unaligned_objectives=(b.id, d.id),
        orphan_kpis=(k3, k4),
    )


def test_measured_objective_scores_one_regardless_of_children() -> None:
    k = uuid4()
    top = node(k)
    child = node(parent=top.id)
    result = alignment([top, child], [k])
    assert result.alignment_score == 1.0
    assert result.unaligned_objectives == (child.id,)


def test_unknown_and_duplicate_kpis() -> None:
    k, stranger = uuid4(), uuid4()
    result = alignment([node(k, stranger)], [k, k])
    assert (result.kpis_total, result.kpis_linked, result.orphan_kpis) == (1, 1, ())


def test_empty_inputs() -> None:
    result = alignment([node(status="draft")], [])
    assert result == AlignmentReport(0, 0, None, None, 0, 0, None, (), ())


def test_deep_chain_is_aligned_through_its_leaf() -> None:
    k = uuid4()
    chain = [node()]
    for _ in range(5000):
        chain.append(node(parent=chain[-1].id))
    chain[-1] = node(k, parent=chain[-2].id)
    result = alignment(chain, [k])
    assert (result.aligned, result.alignment_score) == (5001, 1.0)


def test_cycle_is_rejected() -> None:
    a, b = uuid4(), uuid4()
    loop = [
        AlignmentObjective(a, b, 1, "active", frozenset()),
        AlignmentObjective(b, a, 1, "active", frozenset()),
    ]
    with pytest.raises(ValueError, match="cycle"):
        alignment(loop, [])


@st.composite
def strategies(draw: st.DrawFn) -> tuple[list[AlignmentObjective], list[UUID]]:
    kpis = [uuid4() for _ in range(draw(st.integers(min_value=0, max_value=6)))]
    nodes: list[AlignmentObjective] = []
    for i in range(draw(st.integers(min_value=0, max_value=20))):
        parent = draw(st.none() | st.integers(min_value=0, max_value=i - 1)) if i else None
        links = draw(st.sets(st.sampled_from(kpis), max_size=2)) if kpis else set()
        nodes.append(
            AlignmentObjective(
                uuid4(),
                None if parent is None else nodes[parent].id,
                draw(st.floats(min_value=0.1, max_value=10)),
                draw(st.sampled_from(["active", "active", "closed", "cancelled", "draft"])),
                frozenset(links),
            )
        )
    return draw(st.permutations(nodes)), kpis


def reference_score(active: list[AlignmentObjective]) -> float:
    """The score restated recursively (the generated trees are shallow)."""
    ids = {n.id for n in active}

    def score(n: AlignmentObjective) -> float:
        if n.kpi_ids:
            return 1.0
        kids = [c for c in active if c.parent_id == n.id]
        if not kids:
            return 0.0
        return sum(c.weight * score(c) for c in kids) / sum(c.weight for c in kids)

    roots = [n for n in active if n.parent_id not in ids]
    return sum(r.weight * score(r) for r in roots) / sum(r.weight for r in roots)


@given(strategies())
def test_alignment_properties(case: tuple[list[AlignmentObjective], list[UUID]]) -> None:
    nodes, kpis = case
    result = alignment(nodes, kpis)
    active = {n.id: n for n in nodes if n.status == "active"}

    def active_ancestors(n: AlignmentObjective) -> list[UUID]:
        chain = []
        while n.parent_id in active:
            n = active[n.parent_id]
            chain.append(n.id)
        return chain

    # Aligned restated: an objective is aligned when a measured one sits at or below it.
    aligned = {n.id for n in active.values() if n.kpi_ids}
    for n in list(active.values()):
        if n.kpi_ids:
            aligned.update(active_ancestors(n))
    assert result.objectives_total == len(active)
    assert result.aligned == len(aligned)
    assert result.unaligned_objectives == tuple(i for i in active if i not in aligned)
    assert result.kpis_linked + len(result.orphan_kpis) == result.kpis_total == len(kpis)
    named = set().union(*(n.kpi_ids for n in active.values()))
    assert result.orphan_kpis == tuple(k for k in kpis if k not in named)
    if active:
        assert result.coverage == len(aligned) / len(active)
        assert result.alignment_score is not None
        assert 0.0 <= result.alignment_score <= 1.0 + 1e-12
        assert result.alignment_score == pytest.approx(reference_score(list(active.values())))
        if not aligned:
            assert result.alignment_score == 0.0
    else:
        assert (result.coverage, result.alignment_score) == (None, None)
