"""Where an objective is likely to stand at the end of its due date (DESIGN 8).

Each key result under it gets SIMULATIONS possible values at the end of its own
objective's due date: a KPI-fed one from simulated futures of its KPI (joined to
the period so far as its aggregation joins), a checked-in one from the trend of its
check-ins (flat with fewer than two), one whose due date has passed from its value
then. The domain scores every sample by the key result's rule and rolls them up
through the tree as progress is rolled up.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import Partial
from perfapi.domain.forecasting import SIMULATION_SEED, SIMULATIONS
from perfapi.domain.objective_outlook import (
    SampledObjective,
    expectation,
    key_result_samples,
    roll_up_samples,
    trend_samples,
)
from perfapi.domain.outlook import Samples
from perfapi.forecasts.outlook import KpiFutures, Span, so_far
from perfapi.insights import schemas
from perfapi.key_results import repository as key_results
from perfapi.key_results.repository import ProgressRow
from perfapi.objectives import service as objectives
from perfapi.objectives.repository import TreeRow
from perfapi.reports.current_values import period_end
from perfapi.reports.values import facts_of, progress_explained

OUTLOOK_LEVEL = 0.8
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Kpi:
    id: UUID
    aggregation: str


def _day(at: datetime) -> float:
    return (at - _EPOCH).total_seconds() / 86_400


async def objective_outlook(
    session: AsyncSession, org_id: UUID, objective_id: UUID, as_of: datetime, threshold: float
) -> schemas.ObjectiveOutlook:
    root = await objectives.get(session, org_id, objective_id)
    facts = await facts_of(session, org_id, [objective_id], as_of)
    progress = progress_explained(facts, threshold)[objective_id].progress
    tree = {objective.id: objective for objective in facts.objectives}
    manual = [item.id for item in facts.key_results if item.kpi_id is None]
    check_ins = await key_results.check_in_history(session, org_id, manual, as_of)
    spans = {o.id: Span.of(o.start_date, o.due_date, as_of) for o in facts.objectives}
    held = await so_far(
        session,
        org_id,
        {(item.kpi_id, spans[item.objective_id]) for item in facts.key_results if item.kpi_id},
    )
    futures: dict[UUID, KpiFutures] = {}
    values: dict[UUID, Samples] = {}
    for item in facts.key_results:
        values[item.id] = await _value_samples(
            session, org_id, item, tree[item.objective_id], facts.values.of(item), as_of,
            check_ins.get(item.id, []), futures, spans[item.objective_id], held,
        )  # fmt: skip
    scores = {
        item.id: key_result_samples(
            item.direction,
            values[item.id],
            item.start_value,
            item.target_value,
            item.range_min,
            item.range_max,
        )
        for item in facts.key_results
    }
    terms: dict[UUID, list[tuple[float, Samples]]] = {o.id: [] for o in facts.objectives}
    for item in facts.key_results:
        terms[item.objective_id].append((item.weight, scores[item.id]))
    sampled = roll_up_samples(
        [
            SampledObjective(o.id, o.parent_id, o.weight, o.status, terms[o.id])
            for o in facts.objectives
        ]
    )
    samples = sampled[objective_id]
    whole = None if samples is None else expectation(samples, threshold, OUTLOOK_LEVEL)
    return schemas.ObjectiveOutlook(
        objective_id=objective_id,
        as_of=as_of,
        threshold=threshold,
        due_date=root.due_date,
        progress=progress,
        expected_progress=None if whole is None else whole.expected,
        lower=None if whole is None else whole.lower,
        upper=None if whole is None else whole.upper,
        probability_achieved=None if whole is None else whole.probability,
        key_results=[
            _key_result(item, facts.values.of(item), values[item.id], scores[item.id], threshold)
            for item in facts.key_results
            if item.objective_id == objective_id
        ],
    )


async def _value_samples(
    session: AsyncSession,
    org_id: UUID,
    item: ProgressRow,
    objective: TreeRow,
    current: float | None,
    as_of: datetime,
    check_ins: list[tuple[datetime, float]],
    futures: dict[UUID, KpiFutures],
    span: Span,
    held: dict[tuple[UUID, Span], Partial],
) -> Samples:
    """The key result's possible values at the end of its objective's due date."""
    known = np.full(SIMULATIONS, np.nan if current is None else current)
    due_end = period_end(objective.due_date)
    if as_of >= due_end:
        return known  # the due date has passed: its value then is known
    if item.kpi_id is None:
        return trend_samples(
            [_day(at) for at, _ in check_ins],
            [value for _, value in check_ins],
            _day(due_end),
            SIMULATIONS,
            SIMULATION_SEED,
        )
    assert item.aggregation is not None  # a KPI-fed key result reads its KPI's aggregation
    if item.kpi_id not in futures:
        kpi = _Kpi(item.kpi_id, item.aggregation)
        futures[item.kpi_id] = await KpiFutures.load(session, org_id, kpi, as_of)
    found = await futures[item.kpi_id].period_samples(span, held[(item.kpi_id, span)])
    return known if found is None else found[1]


def _key_result(
    item: ProgressRow, current: float | None, values: Samples, scores: Samples, threshold: float
) -> schemas.KeyResultOutlook:
    finite = values[np.isfinite(values)]
    found = expectation(scores, threshold, OUTLOOK_LEVEL)
    return schemas.KeyResultOutlook(
        id=item.id,
        current_value=current,
        expected_value=float(np.mean(finite)) if finite.size else None,
        expected_progress=found.expected,
        probability=found.probability,
    )
