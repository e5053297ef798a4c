from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from perfapi.domain.attention import DEFAULT_CHECK_IN_EVERY_DAYS
from perfapi.kit.calendar import CalendarDate
from perfapi.kit.fields import NOT_BLANK, JsonInteger, Number, Trimmed
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null


class ObjectiveStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"


Title = Annotated[str, Field(min_length=1, max_length=500, json_schema_extra=NOT_BLANK), Trimmed]
Label = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NOT_BLANK), Trimmed]
ObjectiveKey = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Optional short handle, unique in the org, e.g. `2026-growth`.",
    ),
]
Description = Annotated[str, Field(max_length=10_000)]
Weight = Annotated[Number, Field(gt=0, le=1_000_000, description="Relative weight among siblings.")]
CheckInEveryDays = Annotated[
    int,
    Field(
        ge=1,
        le=366,
        description="How often its checked-in key results expect a check-in, in days; "
        f"null: as its parent asks ({DEFAULT_CHECK_IN_EVERY_DAYS} at a root).",
    ),
    JsonInteger,
]


class ObjectiveCreate(RequestModel):
    key: ObjectiveKey | None = None
    title: Title
    description: Description | None = None
    parent_id: UUID | None = None
    owner: Label | None = None
    team: Label | None = None
    start_date: CalendarDate
    due_date: CalendarDate = Field(description="Last day of the objective's period (inclusive).")
    weight: Weight = 1.0
    status: ObjectiveStatus = ObjectiveStatus.ACTIVE
    check_in_every_days: CheckInEveryDays | None = None


class ObjectiveUpdate(RequestModel):
    """JSON merge patch: fields left out keep their value; null clears optional ones.

    The result is validated as a whole: moving ``start_date`` past the stored
    ``due_date`` is as invalid as sending both wrong.
    """

    key: ObjectiveKey | None = None
    title: Title | None = None
    description: Description | None = None
    parent_id: UUID | None = None
    owner: Label | None = None
    team: Label | None = None
    start_date: CalendarDate | None = None
    due_date: CalendarDate | None = None
    weight: Weight | None = None
    status: ObjectiveStatus | None = None
    check_in_every_days: CheckInEveryDays | None = None

    _required = not_null("title", "start_date", "due_date", "weight", "status")


class Objective(ResponseModel):
    id: UUID
    key: str | None
    title: str
    description: str | None
    parent_id: UUID | None
    owner: str | None
    team: str | None
    start_date: date
    due_date: date
    weight: float
    status: ObjectiveStatus
    check_in_every_days: int | None
    progress: float | None = Field(
        description="Weighted progress of its key results and counted children, 0 to 1, as of "
        "now or `as_of`; null when nothing measures it."
    )
    achieved: bool | None = Field(
        description="progress >= threshold (default 1); null when progress is null."
    )
    created_at: datetime
    updated_at: datetime


class ObjectiveKpiPut(RequestModel):
    weight: Weight = 1.0


class ObjectiveKpi(ResponseModel):
    objective_id: UUID
    kpi_id: UUID
    kpi_key: str
    kpi_name: str
    weight: float
    created_at: datetime
    updated_at: datetime
