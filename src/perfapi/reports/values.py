"""Loading what progress depends on, and computing it with the domain functions.

Key results read their current value from check-ins (the latest at or before
as_of) or from their KPI: the KPI's aggregation over the points from the
objective's start (00:00 UTC) up to the end of its due date or as_of, whichever
comes first.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import aggregate
from perfapi.domain.progress import (
    KeyResultInput,
    KeyResultProgress,
    ObjectiveInput,
    ObjectiveProgress,
    key_result_progress,
    roll_up,
)
from perfapi.key_results import repository as key_results
from perfapi.kpis import repository as kpis
from perfapi.models import KeyResult, Objective
from perfapi.objectives import repository as objectives
from perfapi.rollups.service import RangeQuery
from perfapi.rollups.service import aggregate as aggregate_ranges

_INSTANT = timedelta(microseconds=1)


def period_start(objective: Objective) -> datetime:
    return datetime.combine(objective.start_date, time(), UTC)


def period_end(objective: Objective) -> datetime:
    """The end of the due date: the next day's 00:00 UTC, exclusive."""
    return datetime.combine(objective.due_date + timedelta(days=1), time(), UTC)


async def _current_values(
    session: AsyncSession,
    org_id: UUID,
    items: Sequence[KeyResult],
    periods: dict[UUID, Objective],
    as_of: datetime,
) -> dict[UUID, tuple[float | None, str]]:
    """(current value, source) per key result."""
    manual = [item.id for item in items if item.kpi_id is None]
    checked_in = await key_results.latest_check_in_values(session, org_id, manual, as_of)
    linked = [item for item in items if item.kpi_id is not None]
    kpi_rows = await kpis.by_ids(
        session, org_id, sorted({item.kpi_id for item in linked if item.kpi_id})
    )
    queries: dict[tuple[UUID, datetime, datetime], int] = {}
    for item in linked:
        assert item.kpi_id is not None
        objective = periods[item.objective_id]
        # Points with ts <= as_of count: the range ends just after as_of.
        end = min(period_end(objective), as_of + _INSTANT)
        queries.setdefault((item.kpi_id, period_start(objective), end), len(queries))
    partials = await aggregate_ranges(
        session, org_id, [RangeQuery(kpi_id, start, end) for kpi_id, start, end in queries]
    )
    values: dict[UUID, tuple[float | None, str]] = {}
    for item in items:
        if item.kpi_id is None:
            value = checked_in.get(item.id)
            values[item.id] = (value, "check_in" if value is not None else "none")
            continue
        objective = periods[item.objective_id]
        end = min(period_end(objective), as_of + _INSTANT)
        partial = partials[queries[(item.kpi_id, period_start(objective), end)]]
        value = aggregate(partial, kpi_rows[item.kpi_id].aggregation)
        values[item.id] = (value, "kpi" if value is not None else "none")
    return values


def _input(item: KeyResult, current: tuple[float | None, str]) -> KeyResultInput:
    return KeyResultInput(
        id=item.id,
        weight=item.weight,
        direction=item.direction,
        start_value=item.start_value,
        target_value=item.target_value,
        range_min=item.range_min,
        range_max=item.range_max,
        current_value=current[0],
        source=current[1],
    )


async def key_result_progress_of(
    session: AsyncSession, org_id: UUID, items: Sequence[KeyResult], as_of: datetime
) -> dict[UUID, KeyResultProgress]:
    if not items:
        return {}
    periods = await objectives.by_ids(session, org_id, sorted({i.objective_id for i in items}))
    values = await _current_values(session, org_id, items, periods, as_of)
    return {item.id: key_result_progress(_input(item, values[item.id])) for item in items}


@dataclass(frozen=True)
class ProgressOfTree:
    objectives: dict[UUID, Objective]
    key_results: dict[UUID, KeyResult]
    progress: dict[UUID, ObjectiveProgress]


async def progress_of(
    session: AsyncSession,
    org_id: UUID,
    root_ids: Sequence[UUID] | None,
    as_of: datetime,
    threshold: float = 1.0,
) -> ProgressOfTree:
    """Progress of these objectives and everything under them (every objective for None)."""
    tree = await objectives.subtrees(session, org_id, root_ids)
    return await progress_of_tree(session, org_id, tree, as_of, threshold)


async def progress_of_tree(
    session: AsyncSession,
    org_id: UUID,
    tree: Sequence[Objective],
    as_of: datetime,
    threshold: float = 1.0,
) -> ProgressOfTree:
    """Progress of objectives already loaded, each with every objective under it."""
    by_id = {objective.id: objective for objective in tree}
    items = await key_results.of_objectives(session, org_id, list(by_id))
    values = await _current_values(session, org_id, items, by_id, as_of)
    per_objective: dict[UUID, list[KeyResultInput]] = {}
    for item in items:
        per_objective.setdefault(item.objective_id, []).append(_input(item, values[item.id]))
    inputs = [
        ObjectiveInput(
            id=objective.id,
            parent_id=objective.parent_id,
            weight=objective.weight,
            status=objective.status,
            key_results=tuple(per_objective.get(objective.id, ())),
        )
        for objective in sorted(tree, key=lambda o: (o.created_at, o.id))
    ]
    return ProgressOfTree(
        objectives=by_id,
        key_results={item.id: item for item in items},
        progress=roll_up(inputs, threshold),
    )
