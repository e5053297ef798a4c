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
from perfapi.domain.forecasting import MIN_HISTORY, SIMULATIONS, FittedModel, Method, fit
from perfapi.domain.outlook import OutlookValue, Samples, outlook, period_samples
from perfapi.forecasts.history import (
    SEASON_LENGTH,
    ForecastInterval,
    History,
    KpiRef,
    history_before,
)
from perfapi.models import Kpi
from perfapi.ranges.service import RangeQuery, aggregate

OUTLOOK_LEVEL = 0.8
_UTC = ZoneInfo("UTC")


class KpiFutures:
    """One KPI's daily model as of ``as_of``, fitted once however many periods ask."""

    def __init__(self, kpi: KpiRef, history: History) -> None:
        self.kpi = kpi
        self.history = history
        self._model: FittedModel | None = None

    @classmethod
    async def load(
        cls, session: AsyncSession, org_id: UUID, kpi: KpiRef, as_of: datetime
    ) -> "KpiFutures":
        history = await history_before(
            session,
            org_id,
            kpi,
            interval=ForecastInterval.DAY,
            tz=_UTC,
            before=as_of,
            dimensions={},
        )
        return cls(kpi, history)

    async def period_samples(
        self, session: AsyncSession, org_id: UUID, period_start: date, period_end: date
    ) -> tuple[Method | None, Samples] | None:
        """The period's aggregation in each simulated future (the method: None once the
        period is over); None when the period still runs and the history is too short."""
        begin, end = period_bounds(period_start, period_end)
        known_until = min(max(self.history.end, begin), end)  # the period's complete days
        (so_far,) = (
            await aggregate(session, org_id, [RangeQuery(self.kpi.id, begin, known_until)])
            if begin < known_until
            else [Partial()]
        )
        days_so_far = (known_until - begin).days
        gap = max((begin - self.history.end).days, 0)  # a period starting after as_of's day
        ahead = (end - known_until).days
        if ahead > 0 and len(self.history.values) < MIN_HISTORY:
            return None
        return await run_in_threadpool(self._samples, so_far, days_so_far, gap, ahead)

    def _samples(
        self, so_far: Partial, days_so_far: int, gap: int, ahead: int
    ) -> tuple[Method | None, Samples]:
        method: Method | None = None
        paths = np.empty((0, SIMULATIONS))
        if ahead > 0:
            if self._model is None:
                self._model = fit(self.history.values, SEASON_LENGTH[ForecastInterval.DAY])
            method = self._model.method
            paths = self._model.simulate(gap + ahead)[gap:]
        return method, period_samples(so_far, days_so_far, self.kpi.aggregation, paths)


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
    futures = await KpiFutures.load(session, org_id, kpi, as_of)
    found = await futures.period_samples(session, org_id, period_start, period_end)
    if found is None:
        return None
    method, samples = found
    value = outlook(samples, target, kpi.direction, OUTLOOK_LEVEL)
    return None if value is None else (method, value)
