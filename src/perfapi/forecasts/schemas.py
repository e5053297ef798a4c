from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from perfapi.domain.forecasting import Method
from perfapi.forecasts.history import ForecastInterval


class ForecastBucket(BaseModel):
    start: datetime
    value: float = Field(description="The expected aggregation of the bucket.")
    lower: float = Field(description="Lower bound of the prediction interval at `level`.")
    upper: float = Field(description="Upper bound of the prediction interval at `level`.")


class Forecast(BaseModel):
    kpi_id: UUID
    as_of: datetime
    interval: ForecastInterval
    tz: str
    level: float
    method: Method = Field(description="The model used: naive, trend or seasonal.")
    history: int = Field(description="How many complete buckets the model was fitted to.")
    buckets: list[ForecastBucket]


class Anomaly(BaseModel):
    start: datetime
    value: float
    expected: float = Field(description="What the buckets before it led the model to expect.")
    lower: float
    upper: float
    score: float = Field(
        description="How far outside: |value - expected| in standard deviations of the "
        "model's one-step errors."
    )
    direction: Literal["above", "below"]


class Anomalies(BaseModel):
    kpi_id: UUID
    as_of: datetime
    interval: ForecastInterval
    tz: str
    level: float = Field(description="The level of the one-step-ahead intervals: 0.99.")
    method: Method | None = Field(description="The model used; null with too little history.")
    history: int
    items: list[Anomaly]
