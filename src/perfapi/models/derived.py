"""What derived events are computed against: the last state announced of each subject.

``kpi.status_changed`` and ``objective.progress_changed`` / ``objective.achieved``
are derived from computed values, not written by a request. After commits that
change an org's data, the org is evaluated again (its data version is newer than
the one it was last evaluated at): each KPI's attainment status and each
objective's progress are compared with the state stored here, and an event is
recorded, with the new state, for each that moved. State, events and the
evaluated version commit together under a per-org lock, so a change is
announced once, whichever process evaluates it.
"""

import uuid
from datetime import date

from sqlalchemy import BigInteger, Float, ForeignKeyConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwned


class DerivedEventMark(OrgOwned, Base):
    """The org's data version its derived events were last evaluated at."""

    __tablename__ = "derived_event_marks"

    evaluated_version: Mapped[int] = mapped_column(BigInteger)


class KpiStatusState(OrgOwned, Base):
    __tablename__ = "kpi_status_states"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "kpi_id"], ["kpis.org_id", "kpis.id"], ondelete="CASCADE"),
    )

    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(Text)


class ObjectiveProgressState(OrgOwned, Base):
    __tablename__ = "objective_progress_states"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "objective_id"], ["objectives.org_id", "objectives.id"], ondelete="CASCADE"
        ),
    )

    objective_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    progress: Mapped[float | None] = mapped_column(Float)
    achieved: Mapped[bool | None]
