"""The demo dataset's shapes: plain specifications the loader writes through the services."""

from dataclasses import dataclass
from datetime import date, datetime

from perfapi.key_results.schemas import KeyResultDirection as Kr
from perfapi.kpis.schemas import Aggregation as Agg
from perfapi.kpis.schemas import KpiDirection
from perfapi.objectives.schemas import ObjectiveStatus as Status

DEPARTMENTS = ("engineering", "sales", "support", "operations")
REGIONS = ("emea", "amer", "apac")
CHECK_IN_EVERY_DAYS = 7  # teams check in weekly, well within the default cadence of 14
Bounds = tuple[float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class KpiSpec:
    key: str
    name: str
    unit: str
    direction: KpiDirection
    aggregation: Agg
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TargetSpec:
    kpi: str
    period_start: date
    period_end: date
    value: float


@dataclass(frozen=True)
class ObjectiveSpec:
    team: str  # one objective per team here, so the team names the objective
    parent: str | None
    owner: str
    title: str
    start_date: date
    due_date: date
    weight: float = 1.0
    status: Status = Status.ACTIVE


@dataclass(frozen=True)
class KeyResultSpec:
    title: str
    direction: Kr
    values: tuple[float, ...]  # what the direction takes: (start, target), (target,), (min, max)
    unit: str
    kpi: str | None = None
    weight: float = 1.0
    path: tuple[float, float] | None = None  # without a KPI: the first and last check-in
    objective: str = ""  # its objective's team

    def bounds(self) -> Bounds:
        """(start_value, target_value, range_min, range_max)."""
        if self.direction is Kr.WITHIN:
            return None, None, self.values[0], self.values[1]
        if self.direction in (Kr.AT_LEAST, Kr.AT_MOST):
            return None, self.values[0], None, None
        return self.values[0], self.values[1], None, None


@dataclass(frozen=True)
class CheckInSpec:
    key_result: int  # index into Dataset.key_results
    value: float
    at: datetime
    confidence: float
    note: str


@dataclass(frozen=True)
class LinkSpec:
    objective: str
    kpi: str
    weight: float


@dataclass(frozen=True)
class PointSpec:
    kpi: str
    ts: datetime
    value: float
    dimensions: dict[str, str] | None = None


@dataclass(frozen=True)
class Dataset:
    kpis: tuple[KpiSpec, ...]
    targets: tuple[TargetSpec, ...]
    objectives: tuple[ObjectiveSpec, ...]
    key_results: tuple[KeyResultSpec, ...]
    check_ins: tuple[CheckInSpec, ...]
    links: tuple[LinkSpec, ...]
    points: tuple[PointSpec, ...]
