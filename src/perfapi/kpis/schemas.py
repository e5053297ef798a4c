from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from perfapi.kit.calendar import CalendarDate
from perfapi.kit.fields import NOT_BLANK, Measure, Trimmed
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null

KPI_KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class KpiDirection(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Aggregation(StrEnum):
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    COUNT = "count"


KpiKey = Annotated[
    str,
    Field(
        pattern=KPI_KEY_PATTERN,
        description="Stable identifier used when sending points: lowercase letters, digits, "
        "`_`, `.`, `-`; up to 64 characters, starting with a letter or digit.",
        examples=["sales.new_arr"],
    ),
]
Tag = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=NOT_BLANK), Trimmed]


def _distinct_in_order(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(_distinct_in_order)]
Name = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NOT_BLANK), Trimmed]
Unit = Annotated[str, Field(min_length=1, max_length=32, json_schema_extra=NOT_BLANK), Trimmed]
Description = Annotated[str, Field(max_length=4000)]


class KpiCreate(RequestModel):
    key: KpiKey
    name: Name
    unit: Unit | None = None
    description: Description | None = None
    direction: KpiDirection = KpiDirection.HIGHER_IS_BETTER
    aggregation: Aggregation = Field(
        default=Aggregation.SUM, description="How points combine over a period or bucket."
    )
    tags: Tags = Field(default_factory=list)


class KpiUpdate(RequestModel):
    """JSON merge patch: fields left out keep their value; null clears optional ones."""

    key: KpiKey | None = None
    name: Name | None = None
    unit: Unit | None = None
    description: Description | None = None
    direction: KpiDirection | None = None
    aggregation: Aggregation | None = None
    tags: Tags | None = None

    _required = not_null("key", "name", "direction", "aggregation", "tags")


class Kpi(ResponseModel):
    id: UUID
    key: str
    name: str
    unit: str | None
    description: str | None
    direction: KpiDirection
    aggregation: Aggregation
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class KpiTargetCreate(RequestModel):
    period_start: CalendarDate = Field(description="First day of the period.")
    period_end: CalendarDate = Field(description="Last day of the period (inclusive).")
    value: Measure = Field(description="The KPI's target over the whole period.")


class KpiTarget(ResponseModel):
    id: UUID
    kpi_id: UUID
    period_start: date
    period_end: date
    value: float
    created_at: datetime
