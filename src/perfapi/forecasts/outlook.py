"""A KPI's outlook for a target period: where its aggregation is likely to end.

The KPI's daily history (UTC days before as_of) is fitted as for forecasts; the
model's simulated futures of the days from the one holding as_of to the period's
end are joined to the period's complete days so far (domain.outlook).
"""

from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from perfapi.domain.aggregates import Partial
from perfapi.domain.attainment import period_bounds
from perfapi.domain.forecasting import MIN_HISTORY, Method, fit
from perfapi.domain.outlook import OutlookValue, outlook, period_samples
from perfapi.forecasts.history import SEASON_LENGTH, ForecastInterval, History, history_before
from perfapi.models import Kpi
from perfapi.ranges.service import RangeQuery, aggregate

OUTLOOK_LEVEL = 0.8
_UTC = ZoneInfo("UTC")


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
    history = await history_before(
        session,
        org_id,
        kpi,
        interval=ForecastInterval.DAY,
        tz=_UTC,
        before=as_of,
        dimensions={},
    )
    begin, end = period_bounds(period_start, period_end)
    known_until = min(max(history.end, begin), end)  # complete days of the period end here
    (so_far,) = (
        await aggregate(session, org_id, [RangeQuery(kpi.id, begin, known_until)])
        if begin < known_until
        else [Partial()]
    )
    days_so_far = (known_until - begin).days
    gap = max((begin - history.end).days, 0)  # a period that starts after as_of's day
    ahead = (end - known_until).days
    if ahead > 0 and len(history.values) < MIN_HISTORY:
        return None
    return await run_in_threadpool(_outlook, history, kpi, so_far, days_so_far, gap, ahead, target)


def _outlook(
    history: History,
    kpi: Kpi,
    so_far: Partial,
    days_so_far: int,
    gap: int,
    ahead: int,
    target: float,
) -> tuple[Method | None, OutlookValue] | None:
    method: Method | None = None
    paths = np.empty((0, 1))
    if ahead > 0:
        model = fit(history.values, SEASON_LENGTH[ForecastInterval.DAY])
        method = model.method
        paths = model.simulate(gap + ahead)[gap:]
    samples = period_samples(so_far, days_so_far, kpi.aggregation, paths)
    value = outlook(samples, target, kpi.direction, OUTLOOK_LEVEL)
    return None if value is None else (method, value)
