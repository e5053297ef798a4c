"""What needs attention: the insights feed (DESIGN 8).

Every kind is computed from the same reads the reports and forecasts make, for
the whole org at once: the objective tree with its key results, the KPIs with
the target covering as_of, their attainment so far (one ranges read for all),
their daily models (``forecasts.cache``: fitted once per change of a KPI's
points, so a warm feed fits nothing), the objectives' simulated outlooks and the
key results' latest check-ins. Filters by team and owner are applied before
anything is computed, so a team's feed costs what the team's subjects cost.

A KPI belongs to the objectives it is linked to or feeds through key results;
filtered by team or owner, a KPI is in the feed when one of them matches.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from perfapi.domain import attention
from perfapi.domain.aggregates import Partial
from perfapi.domain.alignment import AlignmentObjective, alignment
from perfapi.domain.attainment import AttainmentInput, attainment
from perfapi.domain.attention import InsightKind
from perfapi.domain.objective_outlook import expectation
from perfapi.domain.outlook import outlook
from perfapi.forecasts.cache import KpiModel
from perfapi.forecasts.outlook import OUTLOOK_LEVEL, daily_models, simulate_periods, so_far
from perfapi.forecasts.schemas import Anomaly
from perfapi.forecasts.service import anomalies_since
from perfapi.forecasts.spans import Span
from perfapi.insights import messages, schemas
from perfapi.insights.objective_outlook import sample_tree
from perfapi.key_results import repository as key_results
from perfapi.kpis import repository as kpis
from perfapi.kpis.repository import KpiFacts
from perfapi.objectives import repository as objectives
from perfapi.objectives.repository import TreeRow
from perfapi.ranges.service import RangeQuery, aggregate
from perfapi.reports.current_values import period_end
from perfapi.reports.values import facts_of, progress_explained

_KPI_KINDS = frozenset(
    {
        InsightKind.KPI_OFF_TRACK,
        InsightKind.KPI_AT_RISK,
        InsightKind.KPI_ANOMALY,
        InsightKind.KPI_WITHOUT_TARGET,
        InsightKind.KPI_ORPHAN,
    }
)
_BEHIND = {"off_track": InsightKind.KPI_OFF_TRACK, "at_risk": InsightKind.KPI_AT_RISK}


@dataclass(frozen=True)
class FeedQuery:
    as_of: datetime
    threshold: float
    team: str | None = None
    owner: str | None = None
    kinds: frozenset[InsightKind] | None = None  # None: every kind

    def wants(self, kind: InsightKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def matches(self, team: str | None, owner: str | None) -> bool:
        return (self.team is None or team == self.team) and (
            self.owner is None or owner == self.owner
        )


@dataclass(frozen=True)
class _Org:
    """The org's structure, as every kind reads it."""

    objectives: Sequence[TreeRow]  # in creation order
    by_id: dict[UUID, TreeRow]
    owners: dict[UUID, str | None]
    cadences: dict[UUID, int | None]
    measures: dict[UUID, list[UUID]]  # KPI -> the objectives it measures, in creation order
    kpis: Sequence[KpiFacts]

    def steward(self, objective_id: UUID) -> tuple[str | None, str | None]:
        return self.by_id[objective_id].team, self.owners[objective_id]

    def kpi_steward(self, kpi_id: UUID, query: FeedQuery) -> tuple[str | None, str | None] | None:
        """The team and owner shown for a KPI: of the first objective it measures that the
        filters match; None when the filters match none."""
        for objective_id in self.measures.get(kpi_id, []):
            team, owner = self.steward(objective_id)
            if query.matches(team, owner):
                return team, owner
        return (None, None) if query.team is None and query.owner is None else None


def _insight(
    kind: InsightKind,
    severity: float,
    subject: tuple[str, UUID, str],
    steward: tuple[str | None, str | None],
    message: str,
    evidence: dict[str, object],
) -> schemas.Insight:
    kind_of, subject_id, title = subject
    return schemas.Insight.model_validate(
        {
            "kind": kind,
            "severity": round(severity, 4),
            "subject": {"type": kind_of, "id": subject_id, "title": title},
            "team": steward[0],
            "owner": steward[1],
            "message": message,
            "evidence": evidence,
        }
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


async def _read_org(session: AsyncSession, org_id: UUID, day: date) -> _Org:
    every = await objectives.tree_rows(session, org_id, None)
    stewardship = await objectives.stewardship(session, org_id)
    order = {objective.id: index for index, objective in enumerate(every)}
    measured: dict[UUID, set[UUID]] = defaultdict(set)
    for objective_id, kpi_id in await objectives.kpi_links(session, org_id):
        measured[kpi_id].add(objective_id)
    for objective_id, kpi_id in await key_results.kpi_ids_in_use(session, org_id):
        measured[kpi_id].add(objective_id)
    return _Org(
        objectives=every,
        by_id={objective.id: objective for objective in every},
        owners={row.id: row.owner for row in stewardship},
        cadences={row.id: row.check_in_every_days for row in stewardship},
        measures={k: sorted(ids, key=order.__getitem__) for k, ids in measured.items()},
        kpis=await kpis.facts_with_targets(session, org_id, day),
    )


async def insights(session: AsyncSession, org_id: UUID, query: FeedQuery) -> list[schemas.Insight]:
    """Every insight the query asks for, most severe first."""
    org = await _read_org(session, org_id, query.as_of.astimezone(UTC).date())
    found: list[schemas.Insight] = []
    if any(query.wants(kind) for kind in _KPI_KINDS):
        found += await _kpi_insights(session, org_id, org, query)
    if query.wants(InsightKind.OBJECTIVE_LIKELY_MISSED):
        found += await _likely_missed(session, org_id, org, query)
    if query.wants(InsightKind.CHECK_IN_STALE):
        found += await _stale_check_ins(session, org_id, org, query)
    if query.wants(InsightKind.OBJECTIVE_UNALIGNED):
        found += _unaligned(org, query)
    found.sort(key=sort_key)
    return found


def sort_key(item: schemas.Insight) -> tuple[float, int, str, str]:
    """Most severe first; ties by kind, then the subject's title and id."""
    return (
        -item.severity,
        attention.KIND_ORDER[item.kind],
        item.subject.title,
        str(item.subject.id),
    )


def _alignment(org: _Org) -> tuple[frozenset[UUID], frozenset[UUID]]:
    """The unaligned objectives and the orphan KPIs (DESIGN 5, "Alignment")."""
    named: dict[UUID, set[UUID]] = defaultdict(set)
    for kpi_id, objective_ids in org.measures.items():
        for objective_id in objective_ids:
            named[objective_id].add(kpi_id)
    report = alignment(
        [
            AlignmentObjective(o.id, o.parent_id, o.weight, o.status, frozenset(named[o.id]))
            for o in org.objectives
        ],
        [kpi.id for kpi in org.kpis],
    )
    return frozenset(report.unaligned_objectives), frozenset(report.orphan_kpis)


def _unaligned(org: _Org, query: FeedQuery) -> list[schemas.Insight]:
    unaligned, _ = _alignment(org)
    found = []
    for objective in org.objectives:
        steward = org.steward(objective.id)
        if objective.id in unaligned and query.matches(*steward):
            found.append(
                _insight(
                    InsightKind.OBJECTIVE_UNALIGNED,
                    attention.OBJECTIVE_UNALIGNED,
                    ("objective", objective.id, objective.title),
                    steward,
                    messages.objective_unaligned(objective.title),
                    {"due_date": objective.due_date.isoformat()},
                )
            )
    return found


async def _kpi_insights(
    session: AsyncSession, org_id: UUID, org: _Org, query: FeedQuery
) -> list[schemas.Insight]:
    stewards = {kpi.id: org.kpi_steward(kpi.id, query) for kpi in org.kpis}
    shown = [kpi for kpi in org.kpis if stewards[kpi.id] is not None]
    _, orphans = _alignment(org)
    as_of, day = query.as_of, query.as_of.astimezone(UTC).date()
    found: list[schemas.Insight] = []
    for kpi in shown:
        steward = stewards[kpi.id]
        assert steward is not None
        subject = ("kpi", kpi.id, kpi.name)
        if kpi.id in orphans and query.wants(InsightKind.KPI_ORPHAN):
            found.append(
                _insight(
                    InsightKind.KPI_ORPHAN,
                    attention.KPI_ORPHAN,
                    subject,
                    steward,
                    messages.kpi_orphan(kpi.name),
                    {"key": kpi.key},
                )
            )
        elif (
            kpi.id not in orphans
            and kpi.target is None
            and query.wants(InsightKind.KPI_WITHOUT_TARGET)
        ):
            count = len(org.measures.get(kpi.id, []))
            found.append(
                _insight(
                    InsightKind.KPI_WITHOUT_TARGET,
                    attention.KPI_WITHOUT_TARGET,
                    subject,
                    steward,
                    messages.kpi_without_target(kpi.name, objectives=count, day=day),
                    {"key": kpi.key, "objectives": count, "day": day.isoformat()},
                )
            )
    wants_behind = query.wants(InsightKind.KPI_OFF_TRACK) or query.wants(InsightKind.KPI_AT_RISK)
    targeted = [kpi for kpi in shown if kpi.target is not None] if wants_behind else []
    modelled = shown if query.wants(InsightKind.KPI_ANOMALY) else targeted
    models = await daily_models(session, org_id, modelled, as_of)
    if query.wants(InsightKind.KPI_ANOMALY):
        found += await _anomalies(org, shown, models, stewards, day)
    if targeted:
        found += await _behind(session, org_id, targeted, models, stewards, query)
    return found


async def _anomalies(
    org: _Org,
    shown: Sequence[KpiFacts],
    models: dict[UUID, KpiModel],
    stewards: dict[UUID, tuple[str | None, str | None] | None],
    day: date,
) -> list[schemas.Insight]:
    today = datetime.combine(day, time(), UTC)
    first = today - timedelta(days=attention.ANOMALY_DAYS)

    def judge() -> dict[UUID, list[Anomaly]]:
        return {kpi.id: anomalies_since(models[kpi.id], first)[1] for kpi in shown}

    judged = await run_in_threadpool(judge)
    found = []
    for kpi in shown:
        items = judged[kpi.id]
        if not items:
            continue
        steward = stewards[kpi.id]
        assert steward is not None

        # The furthest out, the latest of equals: what followed a spike often looks off
        # too, while the model takes the spike in, but less so.
        worst = max(items, key=lambda item: (item.score, item.start))
        found.append(
            _insight(
                InsightKind.KPI_ANOMALY,
                attention.anomaly(worst.score, (today - worst.start).days - 1),
                ("kpi", kpi.id, kpi.name),
                steward,
                messages.kpi_anomaly(
                    kpi.name,
                    unit=kpi.unit,
                    day=worst.start.date(),
                    value=worst.value,
                    lower=worst.lower,
                    upper=worst.upper,
                    above=worst.direction == "above",
                ),
                {
                    "key": kpi.key,
                    "start": worst.start.isoformat(),
                    "value": worst.value,
                    "expected": worst.expected,
                    "lower": worst.lower,
                    "upper": worst.upper,
                    "score": worst.score,
                    "direction": worst.direction,
                    "anomalies_in_last_7_days": len(items),
                },
            )
        )
    return found


async def _behind(
    session: AsyncSession,
    org_id: UUID,
    targeted: Sequence[KpiFacts],
    models: dict[UUID, KpiModel],
    stewards: dict[UUID, tuple[str | None, str | None] | None],
    query: FeedQuery,
) -> list[schemas.Insight]:
    """KPIs off their pace or at risk of it, against the target covering as_of."""
    as_of = query.as_of
    periods: dict[UUID, tuple[date, date, float]] = {}
    for kpi in targeted:
        # A target row has all three (the outer join gives none of them without one).
        assert kpi.period_start is not None
        assert kpi.period_end is not None
        assert kpi.target is not None
        periods[kpi.id] = (kpi.period_start, kpi.period_end, kpi.target)
    partials = await aggregate(
        session,
        org_id,
        [
            RangeQuery(
                kpi.id,
                datetime.combine(periods[kpi.id][0], time(), UTC),
                min(period_end(periods[kpi.id][1]), as_of + timedelta(microseconds=1)),
            )
            for kpi in targeted
        ],
    )
    behind: list[tuple[KpiFacts, InsightKind, Partial]] = []
    results = {}
    for kpi, partial in zip(targeted, partials, strict=True):
        start, end, target = periods[kpi.id]
        result = attainment(
            AttainmentInput(start, end, target, kpi.aggregation, kpi.direction, as_of, partial)
        )
        kind = _BEHIND.get(result.status)
        if kind is not None and query.wants(kind) and result.pace is not None:
            behind.append((kpi, kind, partial))
            results[kpi.id] = result
    spans = {kpi.id: Span.of(*periods[kpi.id][:2], as_of) for kpi, _, _ in behind}
    held = await so_far(session, org_id, [(kpi.id, spans[kpi.id]) for kpi, _, _ in behind])
    simulated = await simulate_periods(
        [(models[kpi.id], spans[kpi.id], held[(kpi.id, spans[kpi.id])]) for kpi, _, _ in behind]
    )
    found = []
    for (kpi, kind, _), samples in zip(behind, simulated, strict=True):
        result = results[kpi.id]
        assert result.pace is not None
        assert result.actual is not None
        view = None if samples is None else outlook(samples[1], result.target, kpi.direction)
        probability = None if view is None else view.probability
        severity = (
            attention.off_track if kind is InsightKind.KPI_OFF_TRACK else attention.at_risk
        )(result.pace)
        steward = stewards[kpi.id]
        assert steward is not None
        found.append(
            _insight(
                kind,
                severity,
                ("kpi", kpi.id, kpi.name),
                steward,
                messages.kpi_behind(
                    kpi.name,
                    unit=kpi.unit,
                    pace=result.pace,
                    period=messages.period_name(result.period_start, result.period_end),
                    actual=result.actual,
                    target=result.target,
                    forecast=_finite(result.forecast),
                    probability=probability,
                ),
                {
                    "key": kpi.key,
                    "period_start": result.period_start.isoformat(),
                    "period_end": result.period_end.isoformat(),
                    "target": result.target,
                    "actual": result.actual,
                    "expected_to_date": result.expected_to_date,
                    "pace": result.pace,
                    "forecast": _finite(result.forecast),
                    "probability": probability,
                },
            )
        )
    return found


async def _likely_missed(
    session: AsyncSession, org_id: UUID, org: _Org, query: FeedQuery
) -> list[schemas.Insight]:
    """Active objectives whose probability of being achieved is below one half."""
    active = [
        o for o in org.objectives if o.status == "active" and query.matches(*org.steward(o.id))
    ]
    if not active:
        return []
    facts = await facts_of(session, org_id, None, query.as_of)
    progress = progress_explained(facts, query.threshold)
    sampled = await sample_tree(session, org_id, facts, query.as_of)
    found = []
    for objective in active:
        samples = sampled.objectives.get(objective.id)
        if samples is None:
            continue  # nothing measures it: the unaligned kind says so
        view = expectation(samples, query.threshold, OUTLOOK_LEVEL)
        if view.probability >= attention.LIKELY_MISSED_BELOW:
            continue
        now = progress[objective.id].progress
        over = query.as_of >= period_end(objective.due_date)
        found.append(
            _insight(
                InsightKind.OBJECTIVE_LIKELY_MISSED,
                attention.likely_missed(view.probability),
                ("objective", objective.id, objective.title),
                org.steward(objective.id),
                messages.objective_likely_missed(
                    objective.title,
                    due=objective.due_date,
                    probability=view.probability,
                    expected=view.expected,
                    progress=now,
                    threshold=query.threshold,
                    over=over,
                ),
                {
                    "due_date": objective.due_date.isoformat(),
                    "progress": now,
                    "expected_progress": view.expected,
                    "lower": view.lower,
                    "upper": view.upper,
                    "probability_achieved": view.probability,
                    "threshold": query.threshold,
                },
            )
        )
    return found


async def _stale_check_ins(
    session: AsyncSession, org_id: UUID, org: _Org, query: FeedQuery
) -> list[schemas.Insight]:
    """Checked-in key results of active, started objectives without a recent check-in."""
    as_of = query.as_of
    cadences = attention.check_in_cadences(
        [o.id for o in org.objectives],
        [o.parent_id for o in org.objectives],
        [org.cadences[o.id] for o in org.objectives],
    )
    found = []
    for item in await key_results.check_in_recency(session, org_id, as_of):
        objective = org.by_id[item.objective_id]
        steward = org.steward(objective.id)
        begin = datetime.combine(objective.start_date, time(), UTC)
        if (
            objective.status != "active"
            or not query.matches(*steward)
            or as_of < begin
            or as_of >= period_end(objective.due_date)
        ):
            continue
        # Never checked in: stale once a cadence has passed since it could have been (a
        # key result added after as_of is then not stale as of it).
        since = item.last_check_in_at or max(item.created_at, begin)
        days = (as_of - since) / timedelta(days=1)
        every = cadences[objective.id]
        if days <= every:
            continue
        last = item.last_check_in_at
        found.append(
            _insight(
                InsightKind.CHECK_IN_STALE,
                attention.check_in_stale(days, every),
                ("key_result", item.id, item.title),
                steward,
                messages.check_in_stale(
                    item.title,
                    objective=objective.title,
                    days=math.floor(days),
                    last=None if last is None else last.astimezone(UTC).date(),
                    every_days=every,
                ),
                {
                    "objective_id": str(objective.id),
                    "objective_title": objective.title,
                    "last_check_in_at": None if last is None else last.isoformat(),
                    "days_since": round(days, 2),
                    "check_in_every_days": every,
                },
            )
        )
    return found
