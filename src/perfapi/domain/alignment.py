"""How well the active strategy is covered by KPIs (DESIGN 5, "Alignment")."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from perfapi.domain.progress import bottom_up, children_index


@dataclass(frozen=True, slots=True)
class AlignmentObjective:
    id: UUID
    parent_id: UUID | None
    weight: float
    status: str
    kpi_ids: frozenset[UUID]  # its KPI links and the KPIs of its key results


@dataclass(frozen=True, slots=True)
class AlignmentReport:
    objectives_total: int
    aligned: int
    coverage: float | None
    alignment_score: float | None
    kpis_total: int
    kpis_linked: int
    kpi_utilization: float | None
    unaligned_objectives: tuple[UUID, ...]  # input order
    orphan_kpis: tuple[UUID, ...]  # input order


def alignment(objectives: Sequence[AlignmentObjective], kpi_ids: Sequence[UUID]) -> AlignmentReport:
    """Coverage, score and KPI utilisation over the active objectives."""
    active = [o for o in objectives if o.status == "active"]
    active_ids = {o.id for o in active}
    # A parent that is not active (or not given) cuts the tree: the child becomes a root,
    # so a closed or cancelled parent neither hides nor dilutes its active subtree.
    parents = [o.parent_id if o.parent_id in active_ids else None for o in active]
    children = children_index([o.id for o in active], parents)
    aligned = [False] * len(active)
    score = [0.0] * len(active)
    for i in bottom_up(children):
        kids = children[i]
        direct = bool(active[i].kpi_ids)
        aligned[i] = direct or any(aligned[c] for c in kids)
        if direct:
            score[i] = 1.0
        elif kids:
            score[i] = _weighted_mean([(active[c].weight, score[c]) for c in kids]) or 0.0
    roots = [i for i, parent in enumerate(parents) if parent is None]
    root_score = _weighted_mean([(active[i].weight, score[i]) for i in roots])

    known = list(dict.fromkeys(kpi_ids))  # distinct, input order
    named: set[UUID] = set()
    for objective in active:
        named.update(objective.kpi_ids)
    linked = [k for k in known if k in named]
    total = len(active)
    aligned_count = sum(aligned)
    return AlignmentReport(
        objectives_total=total,
        aligned=aligned_count,
        coverage=aligned_count / total if total else None,
        alignment_score=root_score,
        kpis_total=len(known),
        kpis_linked=len(linked),
        kpi_utilization=len(linked) / len(known) if known else None,
        unaligned_objectives=tuple(o.id for o, ok in zip(active, aligned, strict=True) if not ok),
        orphan_kpis=tuple(k for k in known if k not in named),
    )


def _weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    total_weight = math.fsum(w for w, _ in pairs)
    if not pairs or total_weight <= 0:
        return None
    return math.fsum(w * s for w, s in pairs) / total_weight
