"""A key result's current value (DESIGN 5): from its KPI, or from its latest check-in.

A key result reading a KPI takes the KPI's aggregation over the points from its
objective's start (00:00 UTC) up to the end of its due date or as_of, whichever
comes first. Any other takes its latest check-in at or before as_of, which the
key-results repository reads together with the key result.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.ranges.plan import Range
from perfapi.ranges.service import Reading, aggregate_values

_INSTANT = timedelta(microseconds=1)


class ValueSource(Protocol):
    """What a key result's value is read from: a row of the key-results repository."""

    @property
    def objective_id(self) -> UUID: ...
    @property
    def kpi_id(self) -> UUID | None: ...
    @property
    def aggregation(self) -> str | None: ...  # of its KPI
    @property
    def check_in_value(self) -> float | None: ...  # the latest at or before as_of


def period_start(start_date: date) -> datetime:
    return datetime.combine(start_date, time(), UTC)


def period_end(due_date: date) -> datetime:
    """The end of the due date: the next day's 00:00 UTC, exclusive."""
    return datetime.combine(due_date + timedelta(days=1), time(), UTC)


@dataclass(frozen=True)
class CurrentValues:
    """What the current values of some key results are read from: the aggregation of
    each KPI they read over each range they read it, and each objective's range."""

    of_kpi: Mapping[UUID, Mapping[Range, float | None]]
    range_of: Mapping[UUID, Range]  # by objective

    def of(self, source: ValueSource) -> float | None:
        """The current value of this key result (None without data)."""
        if source.kpi_id is None:
            return source.check_in_value
        return self.of_kpi[source.kpi_id][self.range_of[source.objective_id]]


async def read_current_values(
    session: AsyncSession,
    org_id: UUID,
    sources: Sequence[ValueSource],
    periods: Mapping[UUID, tuple[date, date]],
    as_of: datetime,
) -> CurrentValues:
    """What the current values of these key results come from; ``periods`` holds each
    one's objective's (start_date, due_date).

    Many key results read one KPI over one period (those of objectives with the same
    dates): each KPI is aggregated once per distinct range.
    """
    # Points with ts <= as_of count: a range ends just after as_of at the latest.
    last_instant = as_of + _INSTANT
    range_of_period = {
        period: (period_start(period[0]), min(period_end(period[1]), last_instant))
        for period in set(periods.values())
    }
    range_of = {objective_id: range_of_period[period] for objective_id, period in periods.items()}
    readings: dict[UUID, tuple[str, set[Range]]] = {}
    for source in sources:
        if source.kpi_id is not None and source.aggregation is not None:
            reading = readings.get(source.kpi_id)
            if reading is None:
                reading = readings[source.kpi_id] = (source.aggregation, set())
            reading[1].add(range_of[source.objective_id])
    aggregated = await aggregate_values(
        session, org_id, {kpi_id: Reading(*reading) for kpi_id, reading in readings.items()}
    )
    return CurrentValues(aggregated, range_of)


async def current_values(
    session: AsyncSession,
    org_id: UUID,
    sources: Sequence[ValueSource],
    periods: Mapping[UUID, tuple[date, date]],
    as_of: datetime,
) -> list[float | None]:
    """The current value of each key result (None without data), in order; ``periods``
    holds each one's objective's (start_date, due_date)."""
    values = await read_current_values(session, org_id, sources, periods, as_of)
    return [values.of(source) for source in sources]


def source_of(kpi_id: UUID | None, value: float | None) -> str:
    """Where a key result's current value came from: kpi, check_in, or none without one."""
    if value is None:
        return "none"
    return "check_in" if kpi_id is None else "kpi"
