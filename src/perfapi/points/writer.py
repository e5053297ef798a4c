"""Writing one request's points, atomically, with true insert and update counts.

A request of one batch (up to 10,000 points) stays in memory. When none of its
points can exist yet (no stored point of its KPIs in its time range: the usual
case for fresh measurements), it is COPYed straight into ``points``, close to
raw COPY speed. Otherwise, and for larger requests, points are COPYed into a
temporary staging table, checked there for repeats with other values, and
merged in key order.

Either way, the months the points fall in get their partition first, in the same
transaction (:mod:`.partitions`): usually a month this process already knows, at
no cost. Points of one month (the usual request) are written to its partition
directly, which is cheaper than routing them through ``points``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.points import partitions, repository
from perfapi.points.decoding import Batch
from perfapi.points.months import Month, months_spanned, partition_name
from perfapi.points.records import MAX_LISTED_PROBLEMS, Problems
from perfapi.rollups import repository as rollups

LocOf = Callable[[int], list[str | int]]


@dataclass(frozen=True)
class WriteCounts:
    inserted: int
    updated: int
    kpi_ids: frozenset[UUID] = frozenset()  # of the points written


class KpiDeletedError(Exception):
    """A KPI named by the request was deleted while the request ran."""


class PointWriter:
    def __init__(self, session: AsyncSession, loc_of: LocOf) -> None:
        self.session = session
        self.loc_of = loc_of
        self.pending: Batch | None = None
        self.staged = False

    async def add(self, batch: Batch) -> None:
        """Keep the first batch in memory; stage it and every later one beside it.

        Batches are staged even once the request is known to be invalid, so that
        repeats across batches are still found and listed.
        """
        if not self.staged and self.pending is None:
            self.pending = batch
            return
        if not self.staged:
            await self._stage_pending()
        await repository.copy_to_staging(self.session, batch.positions, batch.rows)

    async def _stage_pending(self) -> None:
        await repository.create_staging(self.session)
        if self.pending is not None:
            await repository.copy_to_staging(
                self.session, self.pending.positions, self.pending.rows
            )
            self.pending = None
        self.staged = True

    async def finish(self, problems: Problems) -> WriteCounts | None:
        """Write what was added; None when the request is invalid (problems say why).

        Raises KpiDeletedError when a KPI vanished under the request.
        """
        if not self.staged:
            if problems:
                return None  # a batch checked point by point has its repeats listed
            if self.pending is None or not self.pending.rows:
                return WriteCounts(0, 0)
            if await self._copy_if_all_new(self.pending):
                written = frozenset(map(itemgetter(1), self.pending.rows))
                return WriteCounts(len(self.pending.rows), 0, written)
            await self._stage_pending()
        conflicts, total = await repository.staged_conflicts(self.session, MAX_LISTED_PROBLEMS)
        for position, first_position in conflicts:
            problems.add(
                self.loc_of(position),
                f"the same point (kpi, ts, dimensions) as {self.loc_of(first_position)[-1]} "
                "with another value",
                "duplicate_point",
            )
        problems.total += max(0, total - len(conflicts))
        if problems:
            return None
        months = await repository.staged_months(self.session)
        await partitions.ensure(self.session, months)
        kpis = await repository.staged_kpi_ids(self.session)
        if await repository.lock_kpis(self.session, kpis) < len(kpis):
            raise KpiDeletedError
        await rollups.record_staged_changes(self.session)
        return WriteCounts(*await repository.merge_staging(self.session, _only(months)))

    async def _copy_if_all_new(self, batch: Batch) -> bool:
        # Key order, as the merge uses: concurrent writers then take row locks in
        # one order and cannot deadlock.
        rows = sorted(batch.rows)  # plain tuple order is key order, and fastest
        kpi_ids = set(map(itemgetter(1), rows))
        first = min(rows, key=_TS)[2]
        last = max(rows, key=_TS)[2]
        months = months_spanned(first, last, map(_TS, rows))
        await partitions.ensure(self.session, months)
        # A batch of one month (the usual) goes straight into its partition.
        table = _only(months) or "points"
        existing, found = await repository.lock_kpis_and_find_points(
            self.session, rows[0][0], kpi_ids, first, last
        )
        if existing < len(kpi_ids):
            raise KpiDeletedError
        if found:
            return False
        try:
            async with self.session.begin_nested():
                await repository.copy_points(self.session, rows, table)
        except asyncpg.UniqueViolationError:
            # A repeat within the request, or a concurrent request stored some of
            # these points first: merge instead.
            return False
        await rollups.record_changes(
            self.session, rows[0][0], kpi_ids, _utc_day(first), _utc_day(last)
        )
        return True


_TS = itemgetter(2)


def _only(months: set[Month]) -> str | None:
    """The partition all the points fall in, if they fall in one month."""
    return partition_name(next(iter(months))) if len(months) == 1 else None


def _utc_day(ts: datetime) -> date:
    return ts.astimezone(UTC).date()
