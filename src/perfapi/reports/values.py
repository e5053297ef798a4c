"""Loading what progress depends on, and computing it with the domain functions.

Every computed ``progress`` (objective lists and gets, goal achievement, progress
trees and their history) goes through here: the objectives of a tree, their key
results with the latest check-in and the KPI aggregation each reads (one
statement), and the KPI ranges they need (two more, however many objectives),
all as plain rows. Lists and reports that show only the numbers take the roll-up
without explanations; the progress tree takes the explained one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.progress import (
    KeyResultInput,
    ObjectiveInput,
    ObjectiveProgress,
    ScoredObjective,
    key_result_score,
    roll_up,
    roll_up_scores,
)
from perfapi.key_results import repository as key_results
from perfapi.key_results.repository import ProgressRow, RuleFields, ScoreRow
from perfapi.objectives import repository as objectives
from perfapi.objectives.repository import TreeRow
from perfapi.reports.current_values import (
    CurrentValues,
    current_values,
    read_current_values,
    source_of,
)

# From this many objectives on, a tree is worth checking against the org's size.
_LARGE_TREE = 500

Score = tuple[float | None, bool | None]
"""An objective's progress and whether it is achieved; both None when unmeasured."""


RowT = TypeVar("RowT", bound=ScoreRow)


@dataclass(frozen=True)
class ProgressFacts(Generic[RowT]):
    """What the progress of some objectives, each with everything under it, is computed
    from. Objectives in creation order; key results in creation order when read to be
    explained, in no order when read for scores; ``values`` gives their current values."""

    objectives: Sequence[TreeRow]
    key_results: Sequence[RowT]
    values: CurrentValues


async def _tree(
    session: AsyncSession, org_id: UUID, root_ids: Sequence[UUID] | None
) -> tuple[list[TreeRow], bool]:
    """These objectives and everything under them (every objective for None), and
    whether that is the whole org."""
    tree = await objectives.tree_rows(session, org_id, root_ids)
    whole_org = root_ids is None
    if not whole_org and len(tree) >= _LARGE_TREE:
        # A page of objectives with the roots among them is the whole org: its key results
        # are then read in one pass over the org's, not looked up by thousands of ids.
        whole_org = len(tree) == await objectives.count(session, org_id)
    return tree, whole_org


def _periods(tree: Sequence[TreeRow]) -> dict[UUID, tuple[date, date]]:
    return {objective.id: (objective.start_date, objective.due_date) for objective in tree}


async def facts_of(
    session: AsyncSession, org_id: UUID, root_ids: Sequence[UUID] | None, as_of: datetime
) -> ProgressFacts[ProgressRow]:
    """For these objectives and everything under them (every objective for None), to be
    explained."""
    tree, whole_org = await _tree(session, org_id, root_ids)
    periods = _periods(tree)
    items = await key_results.progress_rows(
        session, org_id, None if whole_org else list(periods), as_of
    )
    values = await read_current_values(session, org_id, items, periods, as_of)
    return ProgressFacts(tree, items, values)


async def score_facts_of_tree(
    session: AsyncSession,
    org_id: UUID,
    tree: Sequence[TreeRow],
    as_of: datetime,
    *,
    whole_org: bool = False,
) -> ProgressFacts[ScoreRow]:
    """For objectives already read, each with every objective under it, to be scored;
    ``whole_org`` says they are all of the org's, which reads their key results without
    a list of ids."""
    periods = _periods(tree)
    items = await key_results.score_rows(
        session, org_id, None if whole_org else list(periods), as_of
    )
    values = await read_current_values(session, org_id, items, periods, as_of)
    return ProgressFacts(tree, items, values)


def progress_scores(facts: ProgressFacts[ScoreRow], threshold: float) -> dict[UUID, Score]:
    """Progress and achieved of every objective, without explanations."""
    at = {o.id: i for i, o in enumerate(facts.objectives)}
    weights: list[list[float]] = [[] for _ in facts.objectives]
    weighted: list[list[float]] = [[] for _ in facts.objectives]
    of_kpi, range_of = facts.values.of_kpi, facts.values.range_of
    # The hot loop of every list and report: a row unpacked once, no attribute lookups,
    # its current value looked up in place (CurrentValues.of, inlined) and its terms put
    # straight where the roll-up sums them.
    for row in facts.key_results:
        objective_id, direction, start, target, low, high, kpi_id, weight, _, check_in = row
        current = check_in if kpi_id is None else of_kpi[kpi_id][range_of[objective_id]]
        i = at[objective_id]
        weights[i].append(weight)
        weighted[i].append(weight * key_result_score(direction, current, start, target, low, high))
    return roll_up_scores(
        [
            ScoredObjective(o.id, o.parent_id, o.weight, o.status, weights[i], weighted[i])
            for i, o in enumerate(facts.objectives)
        ],
        threshold,
    )


def progress_explained(
    facts: ProgressFacts[ProgressRow], threshold: float
) -> dict[UUID, ObjectiveProgress]:
    """Progress of every objective with how each value was computed."""
    inputs: dict[UUID, list[KeyResultInput]] = {o.id: [] for o in facts.objectives}
    for item in facts.key_results:
        current = facts.values.of(item)
        inputs[item.objective_id].append(
            KeyResultInput(
                id=item.id,
                weight=item.weight,
                direction=item.direction,
                start_value=item.start_value,
                target_value=item.target_value,
                range_min=item.range_min,
                range_max=item.range_max,
                current_value=current,
                source=source_of(item.kpi_id, current),
            )
        )
    return roll_up(
        [
            ObjectiveInput(o.id, o.parent_id, o.weight, o.status, tuple(inputs[o.id]))
            for o in facts.objectives
        ],
        threshold,
    )


async def progress_of(
    session: AsyncSession,
    org_id: UUID,
    root_ids: Sequence[UUID],
    as_of: datetime,
    threshold: float = 1.0,
) -> dict[UUID, Score]:
    """Progress and achieved of these objectives and of everything under them."""
    tree, whole_org = await _tree(session, org_id, root_ids)
    facts = await score_facts_of_tree(session, org_id, tree, as_of, whole_org=whole_org)
    return progress_scores(facts, threshold)


class ValuedKeyResult(RuleFields, Protocol):
    """A key result as the key-results repository gives it: its id and rule."""

    @property
    def id(self) -> UUID: ...


async def key_result_values(
    session: AsyncSession, org_id: UUID, items: Sequence[ValuedKeyResult], as_of: datetime
) -> dict[UUID, tuple[float | None, float]]:
    """Current value and progress of each key result, by id."""
    if not items:
        return {}
    sources = await key_results.value_sources(session, org_id, [item.id for item in items], as_of)
    periods = {source.objective_id: (source.start_date, source.due_date) for source in sources}
    values = await current_values(session, org_id, sources, periods, as_of)
    current_of = {source.id: current for source, current in zip(sources, values, strict=True)}
    return {
        item.id: (
            current_of[item.id],
            key_result_score(
                item.direction,
                current_of[item.id],
                item.start_value,
                item.target_value,
                item.range_min,
                item.range_max,
            ),
        )
        for item in items
    }
