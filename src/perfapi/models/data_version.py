"""Per-org data versions, for conditional GET (``ETag`` / ``If-None-Match``).

Every write to a table an answer is computed from bumps its org's version in the
same transaction, by triggers the migration installs, so no write path (API,
CLI, background refresh, SQL by hand) can forget to. A statement-level trigger
notes the orgs a statement touched in ``data_version_bumps`` (a row per org and
transaction, so concurrent writers never wait on each other); a deferred
constraint trigger on that table moves the note into ``org_data_versions`` at
commit, so the org's version row is locked only for the moment of committing.
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base


class OrgDataVersion(Base):
    """The org's data version: a value of a global sequence, so never reused.

    No foreign key to ``orgs``: deleting an org writes to its tables, and the bump
    of those writes at commit must not fail for want of the org.
    """

    __tablename__ = "org_data_versions"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    # The latest point or check-in time ever written: until the clock passes it, an
    # answer "as of now" may still change without a write, so it gets no tag.
    dated_until: Mapped[datetime | None]


class DataVersionBump(Base):
    """An org written to by a transaction still in progress; gone at its commit."""

    __tablename__ = "data_version_bumps"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dated_until: Mapped[datetime | None]


class KpiPointVersion(Base):
    """A KPI's points version: a new value of the data version sequence whenever a
    transaction changes any of its points (through the change log every point write
    appends to, ``rollup_changes``). Forecast models are cached under it, so a model
    is refitted only when the points it was fitted to may have changed.

    Bumped at commit as the org's version is (``kpi_point_version_bumps``), so writers
    of one KPI never wait on each other for it. No foreign key, as for the org's.
    """

    __tablename__ = "kpi_point_versions"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class KpiPointVersionBump(Base):
    """A KPI whose points a transaction still in progress changed; gone at its commit."""

    __tablename__ = "kpi_point_version_bumps"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
