"""Per-KPI summaries of points, so reads do not rescan raw points.

Two granularities of UTC periods, day and month, per KPI and dimension set.
They are recomputed from raw points for the days listed in ``rollup_changes``,
which every write of points appends to; a day with a pending change is read
from raw points, so reads are exact whether or not the summaries are current.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Identity, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base


class _Summary:
    """What is kept of the points of one period and dimension set."""

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-3)
    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-2)
    dims_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    count: Mapped[int] = mapped_column(BigInteger)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    last_ts: Mapped[datetime]
    last_value: Mapped[float] = mapped_column(Float)
    # Least-squares sums over x = days since 2000-01-01 UTC and y = value, for trends.
    sum_x: Mapped[float] = mapped_column(Float)
    sum_xx: Mapped[float] = mapped_column(Float)
    sum_xy: Mapped[float] = mapped_column(Float)


class KpiDayRollup(_Summary, Base):
    __tablename__ = "kpi_day_rollups"

    day: Mapped[date] = mapped_column(primary_key=True, sort_order=-1)


class KpiMonthRollup(_Summary, Base):
    __tablename__ = "kpi_month_rollups"

    month: Mapped[date] = mapped_column(primary_key=True, sort_order=-1)


class RollupChange(Base):
    """Days of a KPI whose points changed since its rollups were last computed.

    A change the refresher fails on is retried later (``next_attempt_at``, backing
    off with ``attempts``) and after too many tries set aside (``parked_at``): no
    longer claimed until an operator retries it, so it cannot hold up other work.
    Reads still treat it as pending and take its days from raw points.
    """

    __tablename__ = "rollup_changes"
    __table_args__ = (
        Index(None, "org_id", "kpi_id"),
        # Parked changes are rare: a partial index finds them for the admin listing and
        # the parked gauge without scanning the whole queue, and costs nothing otherwise.
        Index(
            "rollup_changes_parked_idx",
            "org_id",
            "kpi_id",
            postgresql_where=text("parked_at IS NOT NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kpi_id: Mapped[uuid.UUID]
    first_day: Mapped[date]
    last_day: Mapped[date]
    # Failed tries so far; the writers of changes insert without it, hence the default.
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]  # None: due now
    parked_at: Mapped[datetime | None]  # set: not claimed until retried by an operator
