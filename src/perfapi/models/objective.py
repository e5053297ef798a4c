import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwned, OrgOwnedWithId, Timestamps, one_of

OBJECTIVE_STATUSES = ("draft", "active", "closed", "cancelled")
KR_DIRECTIONS = ("increase", "decrease", "at_least", "at_most", "within")


class Objective(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "objectives"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        # No ON DELETE: an objective with children cannot be deleted.
        ForeignKeyConstraint(["org_id", "parent_id"], ["objectives.org_id", "objectives.id"]),
        Index(None, "org_id", "created_at", "id"),
        Index(None, "org_id", "parent_id"),
        Index(None, "org_id", "due_date"),
        CheckConstraint("due_date >= start_date", name="period"),
        CheckConstraint("weight > 0", name="weight"),
        CheckConstraint(one_of("status", OBJECTIVE_STATUSES), name="status"),
        CheckConstraint("check_in_every_days BETWEEN 1 AND 366", name="check_in_every_days"),
    )

    key: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None]
    owner: Mapped[str | None] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date]
    due_date: Mapped[date]
    weight: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(Text)
    # None: as often as its parent asks (14 days at the root).
    check_in_every_days: Mapped[int | None]


class KeyResult(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "key_results"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "objective_id"],
            ["objectives.org_id", "objectives.id"],
            ondelete="CASCADE",
        ),
        # No ON DELETE: a KPI that a key result reads from cannot be deleted.
        ForeignKeyConstraint(["org_id", "kpi_id"], ["kpis.org_id", "kpis.id"]),
        Index(None, "org_id", "objective_id", "created_at", "id"),
        Index(None, "org_id", "kpi_id"),
        CheckConstraint("weight > 0", name="weight"),
        CheckConstraint(one_of("direction", KR_DIRECTIONS), name="direction"),
    )

    objective_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    start_value: Mapped[float | None] = mapped_column(Float)
    target_value: Mapped[float | None] = mapped_column(Float)
    range_min: Mapped[float | None] = mapped_column(Float)
    range_max: Mapped[float | None] = mapped_column(Float)
    kpi_id: Mapped[uuid.UUID | None]
    unit: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[float] = mapped_column(Float)


class CheckIn(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "key_result_id"],
            ["key_results.org_id", "key_results.id"],
            ondelete="CASCADE",
        ),
        Index(None, "org_id", "key_result_id", "at", "id"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence"),
    )

    key_result_id: Mapped[uuid.UUID]
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)


class ObjectiveKpi(OrgOwned, Timestamps, Base):
    """A direct link saying an objective is measured (in part) by a KPI."""

    __tablename__ = "objective_kpis"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "objective_id"],
            ["objectives.org_id", "objectives.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["org_id", "kpi_id"], ["kpis.org_id", "kpis.id"], ondelete="CASCADE"),
        Index(None, "org_id", "kpi_id"),
        CheckConstraint("weight > 0", name="weight"),
    )

    objective_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
