from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, create_model

from perfapi.kit.calendar import CalendarInstant
from perfapi.kit.fields import NOT_BLANK, Measure, Number, Trimmed
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null
from perfapi.objectives.schemas import Description, Title, Weight


class KeyResultDirection(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    WITHIN = "within"


Unit = Annotated[str, Field(min_length=1, max_length=32, json_schema_extra=NOT_BLANK), Trimmed]

_DIRECTION_HELP = (
    "increase: from start_value up to target_value (target > start); "
    "decrease: from start_value down to target_value (target < start); "
    "at_least / at_most: reach or stay under target_value; "
    "within: stay between range_min and range_max."
)

DIRECTION_FIELDS: dict[KeyResultDirection, tuple[tuple[str, ...], tuple[str, ...]]] = {
    KeyResultDirection.INCREASE: (("start_value", "target_value"), ()),
    KeyResultDirection.DECREASE: (("start_value", "target_value"), ()),
    KeyResultDirection.AT_LEAST: (("target_value",), ("start_value",)),
    KeyResultDirection.AT_MOST: (("target_value",), ("start_value",)),
    KeyResultDirection.WITHIN: (("range_min", "range_max"), ()),
}
"""The value fields each direction needs, and those it also allows (a baseline)."""

_KPI_HELP = "Read the value from this KPI instead of check-ins."

VALUE_FIELDS = ("start_value", "target_value", "range_min", "range_max")


# Validated as one model, so that every problem is listed with its plain ``loc``
# (a tagged union would put the direction into it); documented as
# KEY_RESULT_CREATE_VARIANTS, one schema per direction, which the service enforces.
class KeyResultCreate(RequestModel):
    """A key result. Which value fields it needs depends on its `direction`."""

    title: Title
    direction: KeyResultDirection = Field(description=_DIRECTION_HELP)
    start_value: Measure | None = None
    target_value: Measure | None = None
    range_min: Measure | None = None
    range_max: Measure | None = None
    kpi_id: UUID | None = Field(default=None, description=_KPI_HELP)
    unit: Unit | None = None
    weight: Weight = 1.0


def _variant(direction: KeyResultDirection, help_text: str) -> type[RequestModel]:
    """The create body of one direction, for the OpenAPI document only."""
    required, optional = DIRECTION_FIELDS[direction]
    fields: dict[str, Any] = {
        "title": (Title, ...),
        "direction": (Literal[direction.value], Field(description=help_text)),
    }
    for name in VALUE_FIELDS:
        if name in required:
            fields[name] = (Measure, ...)
        elif name in optional:
            fields[name] = (Measure | None, Field(default=None, description="A baseline."))
    fields["kpi_id"] = (UUID | None, Field(default=None, description=_KPI_HELP))
    fields["unit"] = (Unit | None, None)
    fields["weight"] = (Weight, 1.0)
    name = "KeyResultCreate" + direction.value.title().replace("_", "")
    model: type[RequestModel] = create_model(name, __base__=RequestModel, **fields)
    return model


KEY_RESULT_CREATE_VARIANTS: dict[str, type[RequestModel]] = {
    direction.value: _variant(direction, help_text)
    for direction, help_text in (
        (KeyResultDirection.INCREASE, "From start_value up to target_value (target > start)."),
        (KeyResultDirection.DECREASE, "From start_value down to target_value (target < start)."),
        (KeyResultDirection.AT_LEAST, "Reach target_value: progress 1 at or above it, else 0."),
        (KeyResultDirection.AT_MOST, "Stay at or under target_value: progress 1 or 0."),
        (KeyResultDirection.WITHIN, "Stay between range_min and range_max (min <= max)."),
    )
}


class KeyResultUpdate(RequestModel):
    """JSON merge patch, validated as a whole after merging with the stored values."""

    title: Title | None = None
    direction: KeyResultDirection | None = None
    start_value: Measure | None = None
    target_value: Measure | None = None
    range_min: Measure | None = None
    range_max: Measure | None = None
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
    value: Measure
    at: CalendarInstant | None = Field(
        default=None, description="When the value was true; default now. Needs an offset."
    )
    note: Description | None = None
    confidence: Number | None = Field(
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
