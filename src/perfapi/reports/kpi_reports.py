"""Per-KPI reports: attainment of a target, and time series."""

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import aggregate
from perfapi.domain.attainment import AttainmentInput, attainment
from perfapi.domain.buckets import Interval, buckets
from perfapi.errors import NotFoundError
from perfapi.forecasts.outlook import period_outlook
from perfapi.kpis import repository as kpis
from perfapi.models import Kpi
from perfapi.ranges.service import RangeQuery
from perfapi.ranges.service import aggregate as aggregate_ranges
from perfapi.reports import schemas

MAX_BUCKETS = 10_000


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def kpi_attainment(
    session: AsyncSession,
    org_id: UUID,
    kpi: Kpi,
    as_of: datetime,
    period: tuple[date, date] | None,
) -> schemas.Attainment:
    """Against the target whose period contains as_of, or the one with exactly ``period``."""
    if period is None:
        target = await kpis.target_covering(session, org_id, kpi.id, as_of.astimezone(UTC).date())
    else:
        target = await kpis.target_for_period(session, org_id, kpi.id, *period)
    if target is None:
        raise NotFoundError(
            "This KPI has no target for that period."
            if period is not None
            else "This KPI has no target period containing as_of."
        )
    start = _midnight(target.period_start)
    end = min(_midnight(target.period_end + timedelta(days=1)), as_of + timedelta(microseconds=1))
    (partial,) = await aggregate_ranges(session, org_id, [RangeQuery(kpi.id, start, end)])
    outlook = await period_outlook(
        session,
        org_id,
        kpi,
        period_start=target.period_start,
        period_end=target.period_end,
        target=target.value,
        as_of=as_of,
    )
    result = attainment(
        AttainmentInput(
            period_start=target.period_start,
            period_end=target.period_end,
            target=target.value,
            aggregation=kpi.aggregation,
            direction=kpi.direction,
            as_of=as_of,
            partial=partial,
        )
    )
    return schemas.Attainment(
        kpi_id=kpi.id,
        aggregation=kpi.aggregation,
        direction=kpi.direction,
        as_of=as_of,
        period_start=result.period_start,
        period_end=result.period_end,
        target=result.target,
        actual=result.actual,
        expected_to_date=result.expected_to_date,
        elapsed_fraction=result.elapsed_fraction,
        pace=result.pace,
        status=result.status,
        forecast=result.forecast,
        forecast_attainment=result.forecast_attainment,
        outlook=None
        if outlook is None
        else schemas.AttainmentOutlook(
            method=outlook[0],
            value=outlook[1].value,
            lower=outlook[1].lower,
            upper=outlook[1].upper,
            probability=outlook[1].probability,
        ),
    )


async def kpi_series(
    session: AsyncSession,
    org_id: UUID,
    kpi: Kpi,
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    tz: ZoneInfo,
    aggregation: str,
    dimensions: Mapping[str, str],
) -> schemas.Series:
    """Every bucket overlapping [start, end), each over its part inside the range."""
    bounds = buckets(start, end, interval, tz, MAX_BUCKETS)
    # Compared in UTC: datetimes sharing a tzinfo compare by wall clock, which is
    # wrong for the repeated hour of a daylight-saving change.
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    queries = [
        RangeQuery(
            kpi.id, max(bucket_start.astimezone(UTC), first), min(bucket_end.astimezone(UTC), last)
        )
        for bucket_start, bucket_end in bounds
    ]
    partials = await aggregate_ranges(session, org_id, queries, dimensions or None)
    return schemas.Series(
        kpi_id=kpi.id,
        interval=interval.value,
        tz=tz.key,
        aggregation=aggregation,
        buckets=[
            schemas.SeriesBucket(
                start=bucket_start, value=aggregate(partial, aggregation), count=partial.count
            )
            for (bucket_start, _), partial in zip(bounds, partials, strict=True)
        ],
    )
