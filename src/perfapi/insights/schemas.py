from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field


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
