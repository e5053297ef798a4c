from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.domain.buckets import Interval, buckets
from perfapi.domain.forecasting import MIN_HISTORY, Method
from perfapi.forecasts import schemas, service
from perfapi.forecasts.history import MAX_HISTORY, ForecastInterval
from perfapi.kit.exports import ExportFormat, ExportFormatParam, computed_export, export_responses
from perfapi.kit.timerange import RequiredFromParam, RequiredToParam, required_range
from perfapi.kpis import service as kpis
from perfapi.points.endpoints import dimension_filters
from perfapi.replicas.session import ReadReplicaSession
from perfapi.reports.kpi_reports import MAX_BUCKETS
from perfapi.reports.params import AsOf
from perfapi.reports.query import Zone, too_many_buckets_is_422

router = APIRouter(tags=["Forecasts"])

IntervalParam = Annotated[
    ForecastInterval, Query(description="Bucket size; weeks are ISO weeks starting on Monday.")
]
_HISTORY_LIMITS = ", ".join(f"{count} {interval.value}s" for interval, count in MAX_HISTORY.items())


@router.get(
    "/v1/kpis/{kpi_id}/forecast",
    operation_id="getKpiForecast",
    dependencies=[conditional(Clock.CONTINUOUS, replica=True)],
    summary="What a KPI is expected to do next, with a prediction interval",
    description="History is the KPI's aggregation per complete bucket ending at or before "
    f"as_of (at most {_HISTORY_LIMITS}); `buckets` are the `horizon` buckets after the last "
    "complete one, so the bucket holding as_of is forecast whole. The method is chosen from "
    "the history unless `method` names one: `seasonal` (seasons of 7 days, 52 weeks or 12 "
    "months: exponential smoothing with a damped trend for days, the mean of Holt-Winters and "
    "an STL forecast for weeks and months) from two full seasons, `trend` (exponential "
    f"smoothing with a damped trend) from 6 buckets, `naive` (the last value) from {MIN_HISTORY}. "
    "Less history than the method needs: 422. Filter by dimensions with `dim.<name>=<value>`. "
    "Exports list the buckets.",
    response_model=schemas.Forecast,
    responses=export_responses("The forecast."),
)
async def get_kpi_forecast(
    kpi_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    request: Request,
    as_of: AsOf,
    tz: Zone,
    export_format: ExportFormatParam,
    interval: IntervalParam = ForecastInterval.DAY,
    horizon: Annotated[int, Query(ge=1, le=366, description="How many buckets to forecast.")] = 12,
    level: Annotated[
        float, Query(gt=0, lt=1, description="Coverage of the prediction interval.")
    ] = 0.8,
    method: Annotated[Method | None, Query(description="Default: chosen from the history.")] = None,
) -> schemas.Forecast | Response:
    kpi = await kpis.get(session, principal.org_id, kpi_id)
    forecast = await service.kpi_forecast(
        session,
        principal.org_id,
        kpi,
        interval=interval,
        tz=tz,
        as_of=as_of,
        horizon=horizon,
        level=level,
        method=method,
        dimensions=dimension_filters(request),
    )
    if export_format is not ExportFormat.JSON:
        return computed_export(
            forecast.buckets,
            export_format,
            item_model=schemas.ForecastBucket,
            filename=f"{kpi.key}-forecast",
        )
    return forecast


@router.get(
    "/v1/kpis/{kpi_id}/anomalies",
    operation_id="listKpiAnomalies",
    dependencies=[conditional(Clock.CONTINUOUS, replica=True)],
    summary="Buckets of a KPI that lay outside what the buckets before them led to expect",
    description="Complete buckets overlapping [from, to) and ending at or before as_of, whose "
    "value lies outside the model's one-step-ahead prediction interval at level 0.99. The "
    "model (as for forecasts) is fitted to the history up to `to`; a bucket is judged only "
    f"with at least {service.ANOMALY_MIN_HISTORY} buckets of history before it, and with "
    f"fewer than {MIN_HISTORY} in all there are no items. A range of more than "
    f"{MAX_BUCKETS:,} buckets is refused, as for series. Filter by dimensions with "
    "`dim.<name>=<value>`. Exports list the items.",
    response_model=schemas.Anomalies,
    responses=export_responses("The anomalies."),
)
async def list_kpi_anomalies(
    kpi_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    request: Request,
    as_of: AsOf,
    tz: Zone,
    export_format: ExportFormatParam,
    start: RequiredFromParam,
    end: RequiredToParam,
    interval: IntervalParam = ForecastInterval.DAY,
) -> schemas.Anomalies | Response:
    kpi = await kpis.get(session, principal.org_id, kpi_id)
    first, last = required_range(start, end, tz)
    with too_many_buckets_is_422():
        # As a series of the range would be refused: the range is judged bucket by bucket.
        buckets(first, last, Interval(interval.value), tz, MAX_BUCKETS)
    anomalies = await service.kpi_anomalies(
        session,
        principal.org_id,
        kpi,
        interval=interval,
        tz=tz,
        as_of=as_of,
        start=first,
        end=last,
        dimensions=dimension_filters(request),
    )
    if export_format is not ExportFormat.JSON:
        return computed_export(
            anomalies.items,
            export_format,
            item_model=schemas.Anomaly,
            filename=f"{kpi.key}-anomalies",
        )
    return anomalies
