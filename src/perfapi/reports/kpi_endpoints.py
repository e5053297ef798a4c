from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.domain.buckets import Interval
from perfapi.errors import FieldError, ValidationFailedError
from perfapi.kit.calendar import CalendarDate
from perfapi.kit.exports import ExportFormat, ExportFormatParam, computed_export, export_responses
from perfapi.kit.timerange import RequiredFromParam, RequiredToParam, required_range
from perfapi.kpis import service as kpis
from perfapi.kpis.schemas import Aggregation
from perfapi.points.endpoints import dimension_filters
from perfapi.replicas.session import ReadReplicaSession
from perfapi.reports import kpi_reports, schemas
from perfapi.reports.params import AsOf
from perfapi.reports.query import IntervalParam, Zone, too_many_buckets_is_422

router = APIRouter(tags=["Reports"])


@router.get(
    "/v1/kpis/{kpi_id}/attainment",
    operation_id="getKpiAttainment",
    dependencies=[conditional(Clock.CONTINUOUS, replica=True)],
    summary="How a KPI stands against its target: pace, status and forecast",
    description="Against the target period containing as_of, or the target whose period is "
    "exactly [period_start, period_end]. No such target: 404.",
)
async def get_kpi_attainment(
    kpi_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    as_of: AsOf,
    period_start: CalendarDate | None = None,
    period_end: CalendarDate | None = None,
) -> schemas.Attainment:
    kpi = await kpis.get(session, principal.org_id, kpi_id)
    if (period_start is None) != (period_end is None):
        missing = "period_end" if period_end is None else "period_start"
        raise ValidationFailedError(
            [
                FieldError(
                    loc=["query", missing],
                    message="period_start and period_end go together.",
                    type="missing",
                )
            ]
        )
    period = (period_start, period_end) if period_start and period_end else None
    return await kpi_reports.kpi_attainment(session, principal.org_id, kpi, as_of, period)


@router.get(
    "/v1/kpis/{kpi_id}/series",
    operation_id="getKpiSeries",
    dependencies=[conditional(replica=True)],
    summary="A KPI aggregated per time bucket",
    description="Every bucket overlapping [from, to) is present (empty ones with value null "
    "and count 0), aligned in `tz`; the first and last cover only their part inside the "
    f"range. More than {kpi_reports.MAX_BUCKETS:,} buckets: 422. Filter by dimensions with "
    "`dim.<name>=<value>`. Exports list the buckets.",
    response_model=schemas.Series,
    responses=export_responses("The series."),
)
async def get_kpi_series(
    kpi_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    request: Request,
    tz: Zone,
    export_format: ExportFormatParam,
    start: RequiredFromParam,
    end: RequiredToParam,
    interval: IntervalParam = Interval.DAY,
    agg: Annotated[Aggregation | None, Query(description="Default: the KPI's aggregation.")] = None,
) -> schemas.Series | Response:
    kpi = await kpis.get(session, principal.org_id, kpi_id)
    first, last = required_range(start, end, tz)
    with too_many_buckets_is_422():
        series = await kpi_reports.kpi_series(
            session,
            principal.org_id,
            kpi,
            start=first,
            end=last,
            interval=interval,
            tz=tz,
            aggregation=(agg or kpi.aggregation),
            dimensions=dimension_filters(request),
        )
    if export_format is not ExportFormat.JSON:
        return computed_export(
            series.buckets,
            export_format,
            item_model=schemas.SeriesBucket,
            filename=f"{kpi.key}-series",
        )
    return series
