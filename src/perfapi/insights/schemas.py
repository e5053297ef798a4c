from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from perfapi.domain.attention import InsightKind


class KeyResultOutlook(BaseModel):
    id: UUID
    current_value: float | None
    expected_value: float | None = Field(
        description="Expected value at the end of the objective's due date; null without data."
    )
    expected_progress: float
    probability: float = Field(description="Probability that its progress reaches the threshold.")


class ObjectiveOutlook(BaseModel):
    objective_id: UUID
    as_of: datetime
    threshold: float
    due_date: date
    progress: float | None = Field(description="Progress as of as_of.")
    expected_progress: float | None = Field(
        description="Expected progress at the end of the due date; null when nothing measures it."
    )
    lower: float | None = Field(description="Lower bound of its interval at 0.8.")
    upper: float | None = Field(description="Upper bound of its interval at 0.8.")
    probability_achieved: float | None = Field(
        description="Probability that progress reaches the threshold by the end of the due date."
    )
    key_results: list[KeyResultOutlook] = Field(
        description="Its own key results, in creation order."
    )


class InsightSubject(BaseModel):
    type: Literal["kpi", "objective", "key_result"] = Field(
        description="What to act on: the KPI of `kpi_*` kinds, the objective of "
        "`objective_*` kinds, the key result of `check_in_stale`."
    )
    id: UUID
    title: str = Field(description="Its title (a KPI's name).")


class Insight(BaseModel):
    kind: InsightKind
    severity: float = Field(ge=0, le=1, description="How much it needs attention, 0 to 1.")
    subject: InsightSubject
    team: str | None = Field(
        description="The team of the subject's objective (for a KPI: of the first objective "
        "it measures, or the one the `team` filter matched)."
    )
    owner: str | None = Field(description="The owner of that objective.")
    message: str = Field(description="One plain sentence a person can act on.")
    evidence: dict[str, Any] = Field(
        description="The numbers behind the message; which depends on the kind (see the "
        "documentation of the insights feed)."
    )


class InsightFeed(BaseModel):
    as_of: datetime
    items: list[Insight] = Field(description="Most severe first.")
    next_cursor: str | None = Field(
        description="Pass as `?cursor=` (with the same `as_of`) for the next page; null on the "
        "last page."
    )


class InsightRow(BaseModel):
    """An insight as an export row: the subject spread into columns, the evidence as JSON."""

    kind: InsightKind
    severity: float
    subject_type: str
    subject_id: UUID
    subject_title: str
    team: str | None
    owner: str | None
    message: str
    evidence: str
