"""A KPI's outlook for a target period: where its aggregation is likely to end.

The KPI's daily history (UTC days before as_of) is fitted as for forecasts; the
model's simulated futures of the days from the one holding as_of to the period's
end are joined to the period's complete days so far (domain.outlook).
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
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


@dataclass(frozen=True)
class Span:
    """A period seen from as_of: its complete days so far and the days still to come."""

    begin: datetime  # the period's first instant
    known_until: datetime  # the end of its complete days so far
    days_so_far: int
    gap: int  # days between as_of's day and a period that starts later
    ahead: int  # days still to come, the one holding as_of included

    @classmethod
    def of(cls, period_start: date, period_end: date, as_of: datetime) -> "Span":
        begin, end = period_bounds(period_start, period_end)
        today = datetime.combine(as_of.astimezone(UTC).date(), time(), UTC)
        known_until = min(max(today, begin), end)
        return cls(
            begin,
            known_until,
            (known_until - begin).days,
            max((begin - today).days, 0),
            (end - known_until).days,
        )


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


class KpiFutures:
    """One KPI's daily model as of ``as_of``, fitted once however many periods ask."""

    def __init__(self, kpi: KpiRef, history: History) -> None:
        self.kpi = kpi
        self.history = history
        self._model: FittedModel | None = None
        self._samples: dict[Span, tuple[Method | None, Samples]] = {}

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
        self, span: Span, held: Partial
    ) -> tuple[Method | None, Samples] | None:
        """The period's aggregation in each simulated future, given what it ``held`` so
        far (the method: None once the period is over); None when the period still runs
        and the history is too short to forecast."""
        if span.ahead > 0 and len(self.history.values) < MIN_HISTORY:
            return None
        if span not in self._samples:
            self._samples[span] = await run_in_threadpool(self._simulate, span, held)
        return self._samples[span]

    def _simulate(self, span: Span, held: Partial) -> tuple[Method | None, Samples]:
        method: Method | None = None
        paths = np.empty((0, SIMULATIONS))
        if span.ahead > 0:
            if self._model is None:
                self._model = fit(self.history.values, SEASON_LENGTH[ForecastInterval.DAY])
            method = self._model.method
            paths = self._model.simulate(span.gap + span.ahead)[span.gap :]
        return method, period_samples(held, span.days_so_far, self.kpi.aggregation, paths)


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
    span = Span.of(period_start, period_end, as_of)
    held = await so_far(session, org_id, [(kpi.id, span)])
    found = await futures.period_samples(span, held[(kpi.id, span)])
    if found is None:
        return None
    method, samples = found
    value = outlook(samples, target, kpi.direction, OUTLOOK_LEVEL)
    return None if value is None else (method, value)
