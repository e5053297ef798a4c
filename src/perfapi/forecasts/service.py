"""Forecasts and anomalies of one KPI, from its history and the domain's models.

Models are fitted in a worker thread: a seasonal fit takes tens of milliseconds
(a year of weeks, hundreds), which must not stall every other request.
"""

import math
from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from perfapi.domain.buckets import Interval, align_down
from perfapi.domain.forecasting import (
    MIN_HISTORY,
    Forecast,
    Method,
    TooLittleHistoryError,
    fit,
)
from perfapi.errors import ValidationFailedError
from perfapi.forecasts import schemas
from perfapi.forecasts.cache import KpiModel, kpi_models
from perfapi.forecasts.history import (
    ForecastInterval,
    following_starts,
)
from perfapi.models import Kpi

ANOMALY_LEVEL = 0.99
ANOMALY_MIN_HISTORY = 8
"""Buckets that must come before one for it to be judged: fewer say too little of what is usual."""


async def kpi_forecast(
    session: AsyncSession,
    org_id: UUID,
    kpi: Kpi,
    *,
    interval: ForecastInterval,
    tz: ZoneInfo,
    as_of: datetime,
    horizon: int,
    level: float,
    method: Method | None,
    dimensions: Mapping[str, str],
) -> schemas.Forecast:
    (model,) = (
        await kpi_models(
            session, org_id, [kpi], interval=interval, tz=tz, before=as_of, dimensions=dimensions
        )
    ).values()
    forecast = await run_in_threadpool(_forecast, model, horizon, level, method)
    starts = following_starts(model.history.end, interval, tz, horizon)
    return schemas.Forecast(
        kpi_id=kpi.id,
        as_of=as_of,
        interval=interval,
        tz=tz.key,
        level=level,
        method=forecast.method,
        history=forecast.history,
        buckets=[
            schemas.ForecastBucket(start=start, value=value, lower=lower, upper=upper)
            for start, value, lower, upper in zip(
                starts, forecast.mean, forecast.lower, forecast.upper, strict=True
            )
        ],
    )


def _forecast(model: KpiModel, horizon: int, level: float, method: Method | None) -> Forecast:
    history, interval = model.history, model.interval
    try:
        fitted = model.fitted(method)
    except TooLittleHistoryError as exc:
        raise ValidationFailedError.single(
            ["query", "method" if method else "interval"],
            f"The KPI has {len(history.values)} complete {interval.value} bucket(s) of history "
            f"before as_of; {exc}. Use a shorter interval, a later as_of or another method.",
            "too_little_history",
        ) from None
    forecast = fitted.forecast(horizon, level)
    if all(math.isfinite(v) for v in (*forecast.mean, *forecast.lower, *forecast.upper)):
        return forecast
    # Beyond what a float holds (a trend of huge values extrapolated far): carry on flat.
    return fit(history.values, None, Method.NAIVE).forecast(horizon, level)


async def kpi_anomalies(
    session: AsyncSession,
    org_id: UUID,
    kpi: Kpi,
    *,
    interval: ForecastInterval,
    tz: ZoneInfo,
    as_of: datetime,
    start: datetime,
    end: datetime,
    dimensions: Mapping[str, str],
) -> schemas.Anomalies:
    """Complete buckets overlapping [start, end) whose value lies outside what the model,
    fitted to the history up to ``end`` (or as_of), expected from the buckets before."""
    (model,) = (
        await kpi_models(
            session,
            org_id,
            [kpi],
            interval=interval,
            tz=tz,
            before=min(as_of, end),
            dimensions=dimensions,
        )
    ).values()
    first = align_down(start, Interval(interval.value), tz)
    method, items = await run_in_threadpool(anomalies_since, model, first)
    return schemas.Anomalies(
        kpi_id=kpi.id,
        as_of=as_of,
        interval=interval,
        tz=tz.key,
        level=ANOMALY_LEVEL,
        method=method,
        history=len(model.history.values),
        items=items,
    )


def anomalies_since(
    model: KpiModel, first: datetime
) -> tuple[Method | None, list[schemas.Anomaly]]:
    """The model's method and the anomalies among its history's buckets from ``first`` on
    (synchronous: fitting takes milliseconds, so call it in a worker thread)."""
    history = model.history
    if len(history.values) < MIN_HISTORY:
        return None, []
    items = []
    steps = model.one_step_ahead(ANOMALY_LEVEL)
    # Only the buckets from ``first`` on: the feed asks of a week in two years of days.
    begin = max(bisect_left(history.starts, first), ANOMALY_MIN_HISTORY)
    for start, value, step, measured in zip(
        history.starts[begin:],
        history.values[begin:],
        steps[begin:],
        history.measured[begin:],
        strict=True,
    ):
        if step is None or not measured:
            continue  # a bucket without points carries an earlier value: nothing to judge
        if step.lower <= value <= step.upper or step.sigma == 0:
            continue  # inside, or a series the model follows exactly: no surprise
        items.append(
            schemas.Anomaly(
                start=start,
                value=value,
                expected=step.expected,
                lower=step.lower,
                upper=step.upper,
                score=abs(value - step.expected) / step.sigma,
                direction="above" if value > step.upper else "below",
            )
        )
    return model.fitted().method, items
