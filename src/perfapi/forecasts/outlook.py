"""A KPI's outlook for a target period: where its aggregation is likely to end.

The KPI's daily history (UTC days before as_of) is fitted as for forecasts; the
model's simulated futures of the days from the one holding as_of to the period's
end are joined to the period's complete days so far (domain.outlook).
"""

from collections.abc import Collection, Sequence
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from perfapi.domain.aggregates import Partial
from perfapi.domain.forecasting import Method
from perfapi.domain.outlook import OutlookValue, Samples, outlook
from perfapi.forecasts.cache import KpiModel, kpi_models
from perfapi.forecasts.history import ForecastInterval, KpiRef
from perfapi.forecasts.spans import Span
from perfapi.models import Kpi
from perfapi.ranges.service import RangeQuery, aggregate

OUTLOOK_LEVEL = 0.8
_UTC = ZoneInfo("UTC")

Wanted = tuple[UUID, KpiModel, Span]
"""A period of a KPI to simulate: the KPI, its daily model (without dimension filter)
and the period seen from as_of."""


async def so_far(
    session: AsyncSession, org_id: UUID, wanted: Collection[tuple[UUID, Span]]
) -> dict[tuple[UUID, Span], Partial]:
    """What each (KPI, span) already holds: its complete days, in one read for all."""
    queries = [(key, RangeQuery(key[0], key[1].begin, key[1].known_until)) for key in wanted]
    asked = [(key, query) for key, query in queries if query.start < query.end]
    found = await aggregate(session, org_id, [query for _, query in asked])
    held = {key: Partial() for key in wanted}
    held.update({key: partial for (key, _), partial in zip(asked, found, strict=True)})
    return held


async def daily_models(
    session: AsyncSession, org_id: UUID, kpis: Sequence[KpiRef], as_of: datetime
) -> dict[UUID, KpiModel]:
    """The daily (UTC) model of each KPI as of ``as_of``: what outlooks simulate."""
    return await kpi_models(
        session, org_id, kpis, interval=ForecastInterval.DAY, tz=_UTC, before=as_of, dimensions={}
    )


async def simulate_periods(
    session: AsyncSession, org_id: UUID, wanted: Sequence[Wanted]
) -> list[tuple[Method | None, Samples] | None]:
    """Each period's simulated aggregations (None: still running, too little history).

    What the models do not keep yet is computed in one worker thread, after one read of
    what those periods held so far: fitting and simulating take milliseconds each, which
    must not stall every other request.
    """
    missing = {
        (kpi_id, span)
        for kpi_id, model, span in wanted
        if model.can_forecast(span) and not model.has_samples(span)
    }
    if missing:
        held = await so_far(session, org_id, missing)

        def compute() -> None:
            for kpi_id, model, span in wanted:
                if (kpi_id, span) in held:
                    model.period_samples(span, held[(kpi_id, span)])

        await run_in_threadpool(compute)
    return [model.samples(span) if model.can_forecast(span) else None for _, model, span in wanted]


async def period_outlook(
    session: AsyncSession,
    org_id: UUID,
    kpi: Kpi,
    *,
    period_start: date,
    period_end: date,
    target: float,
    as_of: datetime,
) -> tuple[Method | None, OutlookValue] | None:
    """The method (None once the period is over) and the outlook; None without data."""
    model = (await daily_models(session, org_id, [kpi], as_of))[kpi.id]
    span = Span.of(period_start, period_end, as_of)
    (found,) = await simulate_periods(session, org_id, [(kpi.id, model, span)])
    if found is None:
        return None
    method, samples = found
    value = outlook(samples, target, kpi.direction, OUTLOOK_LEVEL)
    return None if value is None else (method, value)
