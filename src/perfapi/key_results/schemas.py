from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from perfapi.kit.calendar import CalendarInstant
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null
from perfapi.objectives.schemas import Description, Title, Weight


class KeyResultDirection(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    WITHIN = "within"


Unit = Annotated[str, Field(min_length=1, max_length=32)]

_DIRECTION_HELP = (
    "increase: from start_value up to target_value (target > start); "
    "decrease: from start_value down to target_value (target < start); "
    "at_least / at_most: reach or stay under target_value; "
    "within: stay between range_min and range_max."
)


class KeyResultCreate(RequestModel):
    title: Title
    direction: KeyResultDirection = Field(description=_DIRECTION_HELP)
    start_value: float | None = None
    target_value: float | None = None
    range_min: float | None = None
    range_max: float | None = None
    kpi_id: UUID | None = Field(
        default=None,
        description="Read the value from this KPI instead of check-ins.",
    )
    unit: Unit | None = None
    weight: Weight = 1.0


class KeyResultUpdate(RequestModel):
    """JSON merge patch, validated as a whole after merging with the stored values."""

    title: Title | None = None
    direction: KeyResultDirection | None = None
    start_value: float | None = None
    target_value: float | None = None
    range_min: float | None = None
    range_max: float | None = None
    kpi_id: UUID | None = None
    unit: Unit | None = None
    weight: Weight | None = None

    _required = not_null("title", "direction", "weight")


class KeyResult(ResponseModel):
    id: UUID
    objective_id: UUID
    title: str
    direction: KeyResultDirection
    start_value: float | None
    target_value: float | None
    range_min: float | None
    range_max: float | None
    kpi_id: UUID | None
    unit: str | None
    weight: float
    current_value: float | None = Field(
        description="From the KPI over the objective's period, or the latest check-in; as of "
        "now or `as_of`. Null without data."
    )
    progress: float = Field(description="0 to 1 by the direction's rule; 0 without data.")
    created_at: datetime
    updated_at: datetime


class CheckInCreate(RequestModel):
    value: float
    at: CalendarInstant | None = Field(
        default=None, description="When the value was true; default now. Needs an offset."
    )
    note: Description | None = None
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="How likely the target is met, 0 to 1."
    )


class CheckIn(ResponseModel):
    id: UUID
    key_result_id: UUID
    value: float
    at: datetime
    note: str | None
    confidence: float | None
    created_at: datetime
