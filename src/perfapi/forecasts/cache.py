"""Fitted models, kept under the exact inputs they were fitted to.

A model is a function of its KPI's history: the aggregation per complete bucket
before the bucket holding as_of. That history is named without reading it by
the KPI's points version (a new number at every commit that changes any of its
points, from ``rollups``), its aggregation, the bucket size, time zone and
dimension filter, and the bucket where it ends. Under that key a model is fitted
once, and what is computed from it (forecasts, one-step predictions, simulated
periods) at most once, whatever asks: a forecast, the anomalies, an attainment
or objective outlook, the insights feed.

A cached model is never stale: a write to the KPI's points gives it a new
version, so the next read misses and fits anew. A miss is never an error either:
it costs the fit, which a cold cache pays for every KPI it is asked about.
The cache lives in the process, least recently used first out.
"""

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import Partial
from perfapi.domain.forecasting import (
    MIN_HISTORY,
    SIMULATIONS,
    FittedModel,
    Method,
    OneStep,
    automatic_method,
    fit,
)
from perfapi.domain.outlook import Samples, period_samples
from perfapi.forecasts.history import (
    SEASON_LENGTH,
    ForecastInterval,
    History,
    KpiRef,
    histories_before,
    history_end,
)
from perfapi.forecasts.spans import Span
from perfapi.rollups import service as rollups

CAPACITY = 1_000
"""Models kept per process unless ``PERFAPI_FORECAST_MODELS_KEPT`` says otherwise: a
large org's every KPI at one bucket size. A daily model of two years' history holds
about 150 KB, a monthly one about 270 KB."""


@dataclass(frozen=True)
class ModelKey:
    org_id: UUID
    kpi_id: UUID
    points_version: int
    aggregation: str
    interval: ForecastInterval
    tz: str
    end: datetime  # the start of the bucket holding as_of: the history ends before it
    dimensions: tuple[tuple[str, str], ...]


class KpiModel:
    """One KPI's history and what is computed from it, each computed at most once.

    The computing methods are synchronous and can take tens of milliseconds: call
    them in a worker thread unless :meth:`has_samples` says the answer is kept. A
    model of a dimension filter forecasts, but never simulates periods: what a period
    held is read of all the KPI's points.
    """

    def __init__(self, aggregation: str, interval: ForecastInterval, history: History) -> None:
        self.aggregation = aggregation
        self.interval = interval
        self.history = history
        self._fitted: dict[Method, FittedModel] = {}
        self._steps: dict[float, list[OneStep | None]] = {}
        self._samples: dict[Span, tuple[Method | None, Samples]] = {}
        self._lock = threading.Lock()

    @property
    def season_length(self) -> int:
        return SEASON_LENGTH[self.interval]

    def fitted(self, method: Method | None = None) -> FittedModel:
        """The model fitted with ``method`` (default: chosen from the history's length);
        raises TooLittleHistoryError."""
        chosen = method or automatic_method(len(self.history.values), self.season_length)
        with self._lock:
            found = self._fitted.get(chosen)
        if found is None:
            found = fit(self.history.values, self.season_length, chosen)
            with self._lock:
                self._fitted[chosen] = found
        return found

    def one_step_ahead(self, level: float) -> list[OneStep | None]:
        """Per bucket, what the automatic model expected of it from the buckets before."""
        with self._lock:
            found = self._steps.get(level)
        if found is None:
            found = self.fitted().one_step_ahead(level, self.history.measured)
            with self._lock:
                self._steps[level] = found
        return found

    def can_forecast(self, span: Span) -> bool:
        return span.ahead == 0 or len(self.history.values) >= MIN_HISTORY

    def has_samples(self, span: Span) -> bool:
        with self._lock:
            return span in self._samples

    def samples(self, span: Span) -> tuple[Method | None, Samples]:
        """What :meth:`period_samples` computed for the span."""
        with self._lock:
            return self._samples[span]

    def period_samples(self, span: Span, held: Partial) -> tuple[Method | None, Samples]:
        """The period's aggregation in each simulated future, given what it ``held`` so
        far (every point of the KPI in the span's complete days), and the method (None
        once the period is over). The period must be one :meth:`can_forecast`.

        Kept by span alone: what a span held is a function of the KPI's points, which
        the model's key names, so a kept answer needs no read of it.
        """
        with self._lock:
            found = self._samples.get(span)
        if found is None:
            method: Method | None = None
            paths = np.empty((0, SIMULATIONS))
            if span.ahead > 0:
                model = self.fitted()
                method = model.method
                paths = model.simulate(span.gap + span.ahead)[span.gap :]
            found = method, period_samples(held, span.days_so_far, self.aggregation, paths)
            with self._lock:
                self._samples[span] = found
        return found


class ModelCache:
    """Models by key, the least recently used dropped past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._models: OrderedDict[ModelKey, KpiModel] = OrderedDict()

    def get(self, key: ModelKey) -> KpiModel | None:
        found = self._models.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._models.move_to_end(key)
        return found

    def put(self, key: ModelKey, model: KpiModel) -> None:
        self._models[key] = model
        self._models.move_to_end(key)
        self.resize(self.capacity)

    def clear(self) -> None:
        self._models.clear()

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)

    def __len__(self) -> int:
        return len(self._models)


MODELS = ModelCache(CAPACITY)


async def kpi_models(
    session: AsyncSession,
    org_id: UUID,
    kpis: Sequence[KpiRef],
    *,
    interval: ForecastInterval,
    tz: ZoneInfo,
    before: datetime,
    dimensions: Mapping[str, str],
) -> dict[UUID, KpiModel]:
    """The model of each KPI as of ``before``: kept ones as they are, the others' histories
    read together (two statements) and kept for the next request."""
    versions = await rollups.point_versions(session, org_id, [kpi.id for kpi in kpis])
    end = history_end(before, interval, tz)
    filters = tuple(sorted(dimensions.items()))
    keys = {
        kpi.id: ModelKey(
            org_id, kpi.id, versions[kpi.id], kpi.aggregation, interval, tz.key, end, filters
        )
        for kpi in kpis
    }
    found: dict[UUID, KpiModel] = {}
    missing: list[KpiRef] = []
    for kpi in kpis:
        model = MODELS.get(keys[kpi.id])
        if model is None:
            missing.append(kpi)
        else:
            found[kpi.id] = model
    if missing:
        histories = await histories_before(
            session, org_id, missing, interval=interval, tz=tz, before=before, dimensions=dimensions
        )
        for kpi in missing:
            model = KpiModel(kpi.aggregation, interval, histories[kpi.id])
            MODELS.put(keys[kpi.id], model)
            found[kpi.id] = model
    return found
