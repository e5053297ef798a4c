"""The KPI kinds of insight: off track, at risk, anomalies, without target, orphans."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from perfapi.domain import attention
from perfapi.domain.attainment import AttainmentInput, attainment
from perfapi.domain.attention import InsightKind
from perfapi.domain.outlook import outlook
from perfapi.forecasts.cache import KpiModel
from perfapi.forecasts.outlook import daily_models, simulate_periods
from perfapi.forecasts.schemas import Anomaly
from perfapi.forecasts.service import anomalies_since
from perfapi.forecasts.spans import Span
from perfapi.insights import messages
from perfapi.insights.snapshots import Snapshot, snapshot
from perfapi.insights.subjects import Draft, FeedQuery, Org, draft, finite
from perfapi.kpis.repository import KpiFacts
from perfapi.ranges.service import RangeQuery, aggregate
from perfapi.reports.current_values import period_end

KPI_KINDS = frozenset(
    {
        InsightKind.KPI_OFF_TRACK,
        InsightKind.KPI_AT_RISK,
        InsightKind.KPI_ANOMALY,
        InsightKind.KPI_WITHOUT_TARGET,
        InsightKind.KPI_ORPHAN,
    }
)
_BEHIND = {"off_track": InsightKind.KPI_OFF_TRACK, "at_risk": InsightKind.KPI_AT_RISK}


async def kpi_insights(
    session: AsyncSession, org_id: UUID, org: Org, query: FeedQuery
) -> list[Draft]:
    stewards = {kpi.id: org.kpi_steward(kpi.id, query) for kpi in org.kpis}
    shown = [kpi for kpi in org.kpis if stewards[kpi.id] is not None]
    _, orphans = org.alignment
    as_of, day = query.as_of, query.as_of.astimezone(UTC).date()
    found: list[Draft] = []
    for kpi in shown:
        steward = stewards[kpi.id]
        assert steward is not None
        subject = ("kpi", kpi.id, kpi.name)
        if kpi.id in orphans and query.wants(InsightKind.KPI_ORPHAN):
            found.append(
                draft(
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
                draft(
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
    org: Org,
    shown: Sequence[KpiFacts],
    models: dict[UUID, KpiModel],
    stewards: dict[UUID, tuple[str | None, str | None] | None],
    day: date,
) -> list[Draft]:
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
            draft(
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


async def _periods_so_far(
    session: AsyncSession,
    org_id: UUID,
    targeted: Sequence[KpiFacts],
    periods: dict[UUID, tuple[date, date, float]],
    as_of: datetime,
    kept: Snapshot,
) -> None:
    """Each KPI's target period up to as_of, read (in one statement) unless kept."""
    missing = [kpi for kpi in targeted if kpi.id not in kept.so_far]
    partials = await aggregate(
        session,
        org_id,
        [
            RangeQuery(
                kpi.id,
                datetime.combine(periods[kpi.id][0], time(), UTC),
                min(period_end(periods[kpi.id][1]), as_of + timedelta(microseconds=1)),
            )
            for kpi in missing
        ],
    )
    kept.so_far.update((kpi.id, partial) for kpi, partial in zip(missing, partials, strict=True))


async def _chances(
    session: AsyncSession,
    org_id: UUID,
    kpis: Sequence[KpiFacts],
    periods: dict[UUID, tuple[date, date, float]],
    models: dict[UUID, KpiModel],
    as_of: datetime,
    kept: Snapshot,
) -> None:
    """Each KPI's chance of meeting its target by its model, simulated unless kept."""
    missing = [kpi for kpi in kpis if kpi.id not in kept.chances]
    simulated = await simulate_periods(
        session,
        org_id,
        [(kpi.id, models[kpi.id], Span.of(*periods[kpi.id][:2], as_of)) for kpi in missing],
    )
    for kpi, samples in zip(missing, simulated, strict=True):
        target = periods[kpi.id][2]
        view = None if samples is None else outlook(samples[1], target, kpi.direction)
        kept.chances[kpi.id] = None if view is None else view.probability


async def _behind(
    session: AsyncSession,
    org_id: UUID,
    targeted: Sequence[KpiFacts],
    models: dict[UUID, KpiModel],
    stewards: dict[UUID, tuple[str | None, str | None] | None],
    query: FeedQuery,
) -> list[Draft]:
    """KPIs off their pace or at risk of it, against the target covering as_of."""
    as_of = query.as_of
    periods: dict[UUID, tuple[date, date, float]] = {}
    for kpi in targeted:
        # A target row has all three (the outer join gives none of them without one).
        assert kpi.period_start is not None
        assert kpi.period_end is not None
        assert kpi.target is not None
        periods[kpi.id] = (kpi.period_start, kpi.period_end, kpi.target)
    kept = await snapshot(session, org_id, as_of)
    await _periods_so_far(session, org_id, targeted, periods, as_of, kept)
    behind: list[tuple[KpiFacts, InsightKind]] = []
    results = {}
    for kpi in targeted:
        start, end, target = periods[kpi.id]
        partial = kept.so_far[kpi.id]
        result = attainment(
            AttainmentInput(start, end, target, kpi.aggregation, kpi.direction, as_of, partial)
        )
        kind = _BEHIND.get(result.status)
        if kind is not None and query.wants(kind) and result.pace is not None:
            behind.append((kpi, kind))
            results[kpi.id] = result
    await _chances(session, org_id, [kpi for kpi, _ in behind], periods, models, as_of, kept)
    found = []
    for kpi, kind in behind:
        result = results[kpi.id]
        assert result.pace is not None
        assert result.actual is not None
        probability = kept.chances[kpi.id]
        severity = (
            attention.off_track if kind is InsightKind.KPI_OFF_TRACK else attention.at_risk
        )(result.pace)
        steward = stewards[kpi.id]
        assert steward is not None
        found.append(
            draft(
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
                    forecast=finite(result.forecast),
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
                    "forecast": finite(result.forecast),
                    "probability": probability,
                },
            )
        )
    return found
