import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base


class Point(Base):
    """One measurement of a KPI: identified by (kpi, ts, dimensions).

    ``dims_hash`` is a 64-bit hash of the canonical dimensions JSON, so the key
    stays four fixed-width columns whatever the labels; ``dimensions`` keeps the
    labels themselves. ``ts`` is in the primary key, so the table is range-partitioned
    by it without changing a key or a query: one partition per UTC month, named
    ``points_YYYY_MM``, made and dropped by perfapi (``perfapi.points.partitions``),
    not declared here.
    """

    __tablename__ = "points"
    __table_args__ = ({"postgresql_partition_by": "RANGE (ts)"},)
    # Reads go by KPI and time range: the primary key is that index, so there is no
    # other. There are no foreign keys either: their per-row triggers would halve
    # ingestion speed. Ingestion instead locks the KPIs a request writes to (FOR KEY
    # SHARE, once per request), and deleting a KPI deletes its points.

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    dims_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSONB)
