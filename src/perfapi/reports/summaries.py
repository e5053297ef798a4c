"""Org-wide reports: goal achievement and alignment."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.achievement import Outcome, goal_achievement, takes_part
from perfapi.domain.alignment import AlignmentObjective, alignment
from perfapi.key_results import repository as key_results
from perfapi.kpis import repository as kpis
from perfapi.objectives import repository as objectives
from perfapi.objectives.repository import TreeRow
from perfapi.reports import schemas
from perfapi.reports.values import progress_scores, score_facts_of_tree

# Thousands of items validated in one call: a model built per item costs twice as much.
_OBJECTIVES = TypeAdapter(list[schemas.GoalAchievementObjective])


def _descendants(tree: Sequence[TreeRow], parent_ids: Iterable[UUID]) -> set[UUID]:
    """Every objective under these (not these themselves, unless under another)."""
    children: dict[UUID | None, list[UUID]] = defaultdict(list)
    for objective in tree:
        children[objective.parent_id].append(objective.id)
    found: set[UUID] = set()
    pending = [child for parent_id in parent_ids for child in children[parent_id]]
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(children[current])
    return found


async def goal_achievement_report(
    session: AsyncSession,
    org_id: UUID,
    *,
    start: date,
    end: date,
    as_of: datetime,
    threshold: float,
    parent_id: UUID | None,
    team: str | None,
) -> schemas.GoalAchievement:
    """Objectives active or closed, due in [start, end], under ``parent_id`` or of ``team``."""
    every = await objectives.tree_rows(session, org_id, None)  # in creation order
    under = _descendants(every, [parent_id]) if parent_id is not None else None
    candidates = [
        objective
        for objective in every
        if takes_part(objective.status, objective.due_date, start, end)
        and (under is None or objective.id in under)
        and (team is None or objective.team == team)
    ]
    # By due date, then creation (a stable sort keeps the creation order of ties).
    candidates.sort(key=lambda objective: objective.due_date)
    # The candidates and everything under them, from the objectives already loaded.
    tree = every
    if len(candidates) < len(every):
        needed = {o.id for o in candidates} | _descendants(every, [o.id for o in candidates])
        tree = [objective for objective in every if objective.id in needed]
    whole_org = len(tree) == len(every)
    scores = progress_scores(
        await score_facts_of_tree(session, org_id, tree, as_of, whole_org=whole_org),
        threshold,
    )
    outcomes = [
        Outcome(objective.id, objective.status, objective.due_date, *scores[objective.id])
        for objective in candidates
    ]
    rate = goal_achievement(outcomes, start, end)
    return schemas.GoalAchievement(
        from_=start,
        to=end,
        as_of=as_of,
        threshold=threshold,
        objectives_total=rate.objectives_total,
        measured=rate.measured,
        achieved=rate.achieved,
        rate=rate.rate,
        objectives=_OBJECTIVES.validate_python(
            [
                {
                    "id": objective.id,
                    "title": objective.title,
                    "status": objective.status,
                    "team": objective.team,
                    "due_date": objective.due_date,
                    "progress": outcome.progress,
                    "achieved": outcome.achieved,
                }
                for objective, outcome in zip(candidates, outcomes, strict=True)
            ]
        ),
    )


async def alignment_report(session: AsyncSession, org_id: UUID) -> schemas.Alignment:
    every = await objectives.tree_rows(session, org_id, None)  # in creation order
    measured_by: dict[UUID, set[UUID]] = defaultdict(set)
    for objective_id, kpi_id in await objectives.kpi_links(session, org_id):
        measured_by[objective_id].add(kpi_id)
    for objective_id, kpi_id in await key_results.kpi_ids_in_use(session, org_id):
        measured_by[objective_id].add(kpi_id)
    all_kpis = await kpis.labels(session, org_id)
    report = alignment(
        [
            AlignmentObjective(
                id=objective.id,
                parent_id=objective.parent_id,
                weight=objective.weight,
                status=objective.status,
                kpi_ids=frozenset(measured_by[objective.id]),
            )
            for objective in every
        ],
        [kpi.id for kpi in all_kpis],
    )
    by_id = {objective.id: objective for objective in every}
    kpi_by_id = {kpi.id: kpi for kpi in all_kpis}
    return schemas.Alignment(
        objectives_total=report.objectives_total,
        aligned=report.aligned,
        coverage=report.coverage,
        alignment_score=report.alignment_score,
        kpis_total=report.kpis_total,
        kpis_linked=report.kpis_linked,
        kpi_utilization=report.kpi_utilization,
        unaligned_objectives=[
            schemas.UnalignedObjective(
                id=objective_id, title=by_id[objective_id].title, team=by_id[objective_id].team
            )
            for objective_id in report.unaligned_objectives
        ],
        orphan_kpis=[
            schemas.OrphanKpi(id=kpi_id, key=kpi_by_id[kpi_id].key, name=kpi_by_id[kpi_id].name)
            for kpi_id in report.orphan_kpis
        ],
    )
