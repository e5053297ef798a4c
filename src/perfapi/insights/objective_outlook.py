"""Where objectives are likely to stand at the end of their due dates (DESIGN 8).

Each key result gets SIMULATIONS possible values at the end of its own
objective's due date: a KPI-fed one from simulated futures of its KPI (joined to
the period so far as its aggregation joins), a checked-in one from the trend of
its check-ins (flat with fewer than two), one whose due date has passed from its
value then. The domain scores every sample by the key result's rule and rolls
them up through the tree as progress is rolled up.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.forecasting import SIMULATION_SEED, SIMULATIONS
from perfapi.domain.objective_outlook import (
    SampledObjective,
    expectation,
    key_result_samples,
    roll_up_samples,
    trend_samples,
)
from perfapi.domain.outlook import Samples
from perfapi.forecasts.outlook import Wanted, daily_models, simulate_periods
from perfapi.forecasts.spans import Span
from perfapi.insights import schemas
from perfapi.key_results import repository as key_results
from perfapi.key_results.repository import ProgressRow
from perfapi.objectives import service as objectives
from perfapi.reports.current_values import period_end
from perfapi.reports.values import ProgressFacts, facts_of, progress_explained

OUTLOOK_LEVEL = 0.8
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Kpi:
    id: UUID
    aggregation: str


@dataclass(frozen=True)
class SampledTree:
    """Possible end-of-due-date values and progress of every key result, and the
    progress samples of every objective (None when nothing measures it)."""

    values: dict[UUID, Samples]
    scores: dict[UUID, Samples]
    objectives: dict[UUID, Samples | None]


def _day(at: datetime) -> float:
    return (at - _EPOCH).total_seconds() / 86_400


async def sample_tree(
    session: AsyncSession, org_id: UUID, facts: ProgressFacts[ProgressRow], as_of: datetime
) -> SampledTree:
    """Samples of every key result and objective in ``facts``."""
    tree = {objective.id: objective for objective in facts.objectives}
    due_ends = {o.id: period_end(o.due_date) for o in facts.objectives}
    running = [item for item in facts.key_results if as_of < due_ends[item.objective_id]]
    manual = [item.id for item in running if item.kpi_id is None]
    check_ins = await key_results.check_in_history(session, org_id, manual, as_of)
    fed = [item for item in running if item.kpi_id is not None]
    aggregation_of = {item.kpi_id: item.aggregation for item in fed}
    models = await daily_models(
        session, org_id, [_Kpi(k, a) for k, a in aggregation_of.items() if k and a], as_of
    )
    spans = {o.id: Span.of(o.start_date, o.due_date, as_of) for o in facts.objectives}
    wanted: list[Wanted] = []
    for item in fed:
        assert item.kpi_id is not None
        wanted.append((item.kpi_id, models[item.kpi_id], spans[item.objective_id]))
    simulated = await simulate_periods(session, org_id, wanted)
    values: dict[UUID, Samples] = {}
    for item in facts.key_results:
        current = facts.values.of(item)
        values[item.id] = np.full(SIMULATIONS, np.nan if current is None else current)
    for item, found in zip(fed, simulated, strict=True):
        if found is not None:  # else too little history: the value stands where it is
            values[item.id] = found[1]
    for item in running:
        if item.kpi_id is None:
            history = check_ins.get(item.id, [])
            values[item.id] = trend_samples(
                [_day(at) for at, _ in history],
                [value for _, value in history],
                _day(due_ends[item.objective_id]),
                SIMULATIONS,
                SIMULATION_SEED,
            )
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
    terms: dict[UUID, list[tuple[float, Samples]]] = {o_id: [] for o_id in tree}
    for item in facts.key_results:
        terms[item.objective_id].append((item.weight, scores[item.id]))
    sampled = roll_up_samples(
        [
            SampledObjective(o.id, o.parent_id, o.weight, o.status, terms[o.id])
            for o in facts.objectives
        ]
    )
    return SampledTree(values, scores, sampled)


async def objective_outlook(
    session: AsyncSession, org_id: UUID, objective_id: UUID, as_of: datetime, threshold: float
) -> schemas.ObjectiveOutlook:
    root = await objectives.get(session, org_id, objective_id)
    facts = await facts_of(session, org_id, [objective_id], as_of)
    progress = progress_explained(facts, threshold)[objective_id].progress
    sampled = await sample_tree(session, org_id, facts, as_of)
    samples = sampled.objectives[objective_id]
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
            _key_result(
                item,
                facts.values.of(item),
                sampled.values[item.id],
                sampled.scores[item.id],
                threshold,
            )
            for item in facts.key_results
            if item.objective_id == objective_id
        ],
    )


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
