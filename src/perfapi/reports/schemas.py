from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from perfapi.key_results.schemas import KeyResultDirection
from perfapi.kpis.schemas import Aggregation, KpiDirection
from perfapi.objectives.schemas import ObjectiveStatus


class Explain(BaseModel):
    formula: str = Field(description="Which rule produced the value, e.g. `weighted_mean`.")
    inputs: dict[str, Any] = Field(description="The values the rule used.")


class KeyResultNode(BaseModel):
    id: UUID
    title: str
    direction: KeyResultDirection
    weight: float
    kpi_id: UUID | None
    current_value: float | None
    progress: float
    explain: Explain


class ProgressNode(BaseModel):
    id: UUID
    title: str
    status: ObjectiveStatus
    weight: float
    progress: float | None
    achieved: bool | None
    explain: Explain
    key_results: list[KeyResultNode]
    children: list["ProgressNode"]


class ProgressTree(BaseModel):
    as_of: datetime
    threshold: float
    objective: ProgressNode


class HistoryPoint(BaseModel):
    at: datetime = Field(description="The bucket's end: the progress as of that instant.")
    progress: float | None
    achieved: bool | None


class ProgressHistory(BaseModel):
    objective_id: UUID
    interval: str
    tz: str
    threshold: float
    points: list[HistoryPoint]


class GoalAchievementObjective(BaseModel):
    id: UUID
    title: str
    status: ObjectiveStatus
    team: str | None
    due_date: date
    progress: float | None
    achieved: bool | None


class GoalAchievement(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    as_of: datetime
    threshold: float
    objectives_total: int
    measured: int
    achieved: int
    rate: float | None = Field(description="achieved / measured; null when nothing is measured.")
    objectives: list[GoalAchievementObjective]


class AttainmentOutlook(BaseModel):
    method: str | None = Field(
        description="The forecasting model (naive, trend or seasonal); null once the period "
        "is over and its value is known."
    )
    value: float = Field(description="Expected aggregation of the period at its end.")
    lower: float = Field(description="Lower bound of its interval at 0.8.")
    upper: float = Field(description="Upper bound of its interval at 0.8.")
    probability: float = Field(
        description="Probability that the target is met: aggregation >= target "
        "(higher_is_better) or <= target (lower_is_better)."
    )


class Attainment(BaseModel):
    kpi_id: UUID
    aggregation: Aggregation
    direction: KpiDirection
    as_of: datetime
    period_start: date
    period_end: date
    target: float
    actual: float | None
    expected_to_date: float
    elapsed_fraction: float
    pace: float | None
    status: str = Field(description="on_track, at_risk, off_track or no_data.")
    forecast: float | None
    forecast_attainment: float | None
    outlook: AttainmentOutlook | None = Field(
        description="Where the period is likely to end under the KPI's forecasting model; "
        "null with fewer than 3 days of history."
    )


class UnalignedObjective(BaseModel):
    id: UUID
    title: str
    team: str | None


class OrphanKpi(BaseModel):
    id: UUID
    key: str
    name: str


class Alignment(BaseModel):
    objectives_total: int
    aligned: int
    coverage: float | None
    alignment_score: float | None
    kpis_total: int
    kpis_linked: int
    kpi_utilization: float | None
    unaligned_objectives: list[UnalignedObjective]
    orphan_kpis: list[OrphanKpi]


class AlignmentRow(BaseModel):
    """One row of the alignment export: an unaligned objective or an orphan KPI."""

    kind: str
    id: UUID
    name: str


class SeriesBucket(BaseModel):
    start: datetime
    value: float | None
    count: int


class Series(BaseModel):
    kpi_id: UUID
    interval: str
    tz: str
    aggregation: Aggregation
    buckets: list[SeriesBucket]
