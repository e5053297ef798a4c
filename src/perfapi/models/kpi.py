import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Float, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwnedWithId, Timestamps, one_of

KPI_DIRECTIONS = ("higher_is_better", "lower_is_better")
KPI_AGGREGATIONS = ("sum", "avg", "min", "max", "last", "count")


class Kpi(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "kpis"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index(None, "org_id", "created_at", "id"),
        CheckConstraint(one_of("direction", KPI_DIRECTIONS), name="direction"),
        CheckConstraint(one_of("aggregation", KPI_AGGREGATIONS), name="aggregation"),
    )

    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    aggregation: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text))


class KpiTarget(OrgOwnedWithId, Timestamps, Base):
    """A target value for a KPI over an inclusive date period; periods never overlap."""

    __tablename__ = "kpi_targets"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "kpi_id"], ["kpis.org_id", "kpis.id"], ondelete="CASCADE"),
        Index(None, "org_id", "kpi_id", "period_start"),
        CheckConstraint("period_end >= period_start", name="period"),
    )

    kpi_id: Mapped[uuid.UUID]
    period_start: Mapped[date]
    period_end: Mapped[date]
    value: Mapped[float] = mapped_column(Float)
