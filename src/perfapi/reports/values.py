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
from datetime import datetime
from typing import Protocol
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
from perfapi.key_results.repository import ProgressRow
from perfapi.objectives import repository as objectives
from perfapi.objectives.repository import TreeRow
from perfapi.reports.current_values import current_values, source_of

# From this many objectives on, a tree is worth checking against the org's size.
_LARGE_TREE = 500

Score = tuple[float | None, bool | None]
"""An objective's progress and whether it is achieved; both None when unmeasured."""


@dataclass(frozen=True)
class ProgressFacts:
    """What the progress of some objectives, each with everything under it, is computed
    from. Objectives in creation order, key results too unless read for scores only;
    ``values`` holds each key result's current value, in the order of ``key_results``."""

    objectives: Sequence[TreeRow]
    key_results: Sequence[ProgressRow]
    values: Sequence[float | None]


async def facts_of(
    session: AsyncSession,
    org_id: UUID,
    root_ids: Sequence[UUID] | None,
    as_of: datetime,
    *,
    ordered: bool = True,
) -> ProgressFacts:
    """For these objectives and everything under them (every objective for None)."""
    tree = await objectives.tree_rows(session, org_id, root_ids)
    whole_org = root_ids is None
    if not whole_org and len(tree) >= _LARGE_TREE:
        # A page of objectives with the roots among them is the whole org: its key results
        # are then read in one pass over the org's, not looked up by thousands of ids.
        whole_org = len(tree) == await objectives.count(session, org_id)
    return await facts_of_tree(session, org_id, tree, as_of, whole_org=whole_org, ordered=ordered)


async def facts_of_tree(
    session: AsyncSession,
    org_id: UUID,
    tree: Sequence[TreeRow],
    as_of: datetime,
    *,
    whole_org: bool = False,
    ordered: bool = True,
) -> ProgressFacts:
    """For objectives already read, each with every objective under it; ``whole_org``
    says they are all of the org's, which reads their key results without a list of ids.
    Key results come in creation order if ``ordered``: explanations list them so, the
    scores do not depend on it."""
    periods = {objective.id: (objective.start_date, objective.due_date) for objective in tree}
    items = await key_results.progress_rows(
        session, org_id, None if whole_org else list(periods), as_of, ordered=ordered
    )
    values = await current_values(session, org_id, items, periods, as_of)
    return ProgressFacts(tree, items, values)


def progress_scores(facts: ProgressFacts, threshold: float) -> dict[UUID, Score]:
    """Progress and achieved of every objective, without explanations."""
    scored: dict[UUID, list[tuple[float, float]]] = {o.id: [] for o in facts.objectives}
    # The hot loop of every list and report: a row unpacked once, no attribute lookups.
    for row, current in zip(facts.key_results, facts.values, strict=True):
        _, objective_id, _, direction, start, target, low, high, _, weight, _, _ = row
        score = key_result_score(direction, current, start, target, low, high)
        scored[objective_id].append((weight, score))
    return roll_up_scores(
        [
            ScoredObjective(o.id, o.parent_id, o.weight, o.status, scored[o.id])
            for o in facts.objectives
        ],
        threshold,
    )


def progress_explained(facts: ProgressFacts, threshold: float) -> dict[UUID, ObjectiveProgress]:
    """Progress of every objective with how each value was computed."""
    inputs: dict[UUID, list[KeyResultInput]] = {o.id: [] for o in facts.objectives}
    for item, current in zip(facts.key_results, facts.values, strict=True):
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
    facts = await facts_of(session, org_id, root_ids, as_of, ordered=False)
    return progress_scores(facts, threshold)


class ValuedKeyResult(Protocol):
    """A key result as the key-results repository gives it: its rule's fields."""

    @property
    def id(self) -> UUID: ...
    @property
    def direction(self) -> str: ...
    @property
    def start_value(self) -> float | None: ...
    @property
    def target_value(self) -> float | None: ...
    @property
    def range_min(self) -> float | None: ...
    @property
    def range_max(self) -> float | None: ...


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
