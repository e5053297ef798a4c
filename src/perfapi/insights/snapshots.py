"""What the feed computes of one state of an org's data, kept across requests.

The feed's costly parts are functions of the org's data and of as_of's day: each
objective's simulated outlook, each KPI's period so far against its target and
the chance its model gives it. The org's data version names the data (it changes
at every commit that writes any of it); as_of matters beyond its day only while
dated data (points, check-ins) lies after it, which the version's ``dated_until``
tells. Kept under exactly that, a snapshot is never stale; what changes with every
instant (the elapsed part of a period, hence pace and status; days since a
check-in) is computed anew from it on every request.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.conditional.repository import data_version
from perfapi.domain.aggregates import Partial
from perfapi.domain.objective_outlook import Expectation

KEPT = 32
"""Snapshots kept per process: a few orgs' current state and a few past as_of each."""


@dataclass(frozen=True)
class Standing:
    """Where an objective stands and is likely to end (no view: nothing measures it)."""

    progress: float | None
    view: Expectation | None


@dataclass(frozen=True)
class SnapshotKey:
    org_id: UUID
    version: int
    day: date
    instant: datetime | None  # as_of itself, while dated data lies after it


@dataclass
class Snapshot:
    standings: dict[float, dict[UUID, Standing]] = field(default_factory=dict)  # by threshold
    so_far: dict[UUID, Partial] = field(default_factory=dict)  # KPI: its target period so far
    chances: dict[UUID, float | None] = field(default_factory=dict)  # of meeting that target


_kept: OrderedDict[SnapshotKey, Snapshot] = OrderedDict()


async def snapshot(session: AsyncSession, org_id: UUID, as_of: datetime) -> Snapshot:
    """The org's snapshot as of ``as_of`` in the session's view of its data (empty when
    new: the feed fills in what it computes)."""
    data = await data_version(session, org_id)
    settled = data.dated_until is None or data.dated_until <= as_of
    key = SnapshotKey(
        org_id, data.version, as_of.astimezone(UTC).date(), None if settled else as_of
    )
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = Snapshot()
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    else:
        _kept.move_to_end(key)
    return found


def forget() -> None:
    """Drop every snapshot (a process with a cold cache, as after a restart)."""
    _kept.clear()
