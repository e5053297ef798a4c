"""Writing one request's points, atomically, with true insert and update counts.

A request of one batch (up to 10,000 points) stays in memory. When none of its
points can exist yet (no stored point of its KPIs falls in its time range, the
usual case for fresh measurements), it is COPYed straight into the table:
nearly raw COPY speed. Otherwise, and for larger requests, points are COPYed
into a temporary staging table and merged with one upsert.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.points import repository
from perfapi.points.decoding import Entry
from perfapi.points.records import MAX_LISTED_PROBLEMS, PointKey, Problems

LocOf = Callable[[int], list[str | int]]


@dataclass(frozen=True)
class WriteCounts:
    distinct: int
    inserted: int
    updated: int


def _key(entry: Entry) -> PointKey:
    return entry[0]


def _duplicate_message(first: list[str | int]) -> str:
    return f"the same point (kpi, ts, dimensions) as {first[-1]} with another value"


class PointWriter:
    def __init__(self, session: AsyncSession, org_id: UUID, loc_of: LocOf) -> None:
        self.session = session
        self.org_id = org_id
        self.loc_of = loc_of
        self.pending: list[Entry] = []
        self.staged = False

    async def add(self, batch: list[Entry], problems: Problems) -> None:
        """Keep a batch; once the request is known to be invalid, write nothing more."""
        if not self.staged and not self.pending:
            self.pending = batch  # in memory: checked for repeats even when invalid
            return
        if problems:
            return
        if not self.staged:
            await repository.create_staging(self.session)
            await repository.copy_to_staging(self.session, self.pending)
            self.pending, self.staged = [], True
        await repository.copy_to_staging(self.session, batch)

    async def finish(self, problems: Problems) -> WriteCounts | None:
        """Write what was added; None when the request is invalid (problems say why).

        Called also when decoding found problems, to add the repeats among the
        points kept in memory to the report; then nothing is written.
        """
        if self.staged:
            return None if problems else await self._finish_staged(problems)
        unique = self._distinct(problems)
        if problems:
            return None
        if not unique:
            return WriteCounts(0, 0, 0)
        await repository.lock_kpis(self.session, self.org_id, {row[0] for _, _, row in unique})
        if await self._copy_if_all_new(unique):
            return WriteCounts(len(unique), len(unique), 0)
        await repository.create_staging(self.session)
        await repository.copy_to_staging(self.session, unique)
        return WriteCounts(*await repository.merge_staging(self.session, self.org_id))

    def _distinct(self, problems: Problems) -> list[Entry]:
        """Drop exact repeats, report repeats with other values; sorted by key."""
        seen: dict[PointKey, Entry] = {}
        for entry in self.pending:
            first = seen.setdefault(entry[0], entry)
            if first is not entry and first[2][3] != entry[2][3]:
                problems.add(
                    self.loc_of(entry[1]),
                    _duplicate_message(self.loc_of(first[1])),
                    "duplicate_point",
                )
        # Key order makes concurrent writers lock rows in one order: no deadlocks.
        return sorted(seen.values(), key=_key)

    async def _copy_if_all_new(self, rows: list[Entry]) -> bool:
        ranges: dict[UUID, tuple[datetime, datetime]] = {}
        for _, _, (kpi_id, ts, *_rest) in rows:
            first, last = ranges.get(kpi_id, (ts, ts))
            ranges[kpi_id] = (min(first, ts), max(last, ts))
        if await repository.any_point_in_ranges(self.session, self.org_id, ranges):
            return False
        try:
            async with self.session.begin_nested():
                await repository.copy_points(self.session, self.org_id, rows)
        except asyncpg.UniqueViolationError:
            return False  # a concurrent request stored some of them first: merge instead
        return True

    async def _finish_staged(self, problems: Problems) -> WriteCounts | None:
        conflicts, total = await repository.staged_conflicts(self.session, MAX_LISTED_PROBLEMS)
        for position, first_position in conflicts:
            problems.add(
                self.loc_of(position),
                _duplicate_message(self.loc_of(first_position)),
                "duplicate_point",
            )
        problems.total += max(0, total - len(conflicts))
        if problems:
            return None
        await repository.lock_kpis(
            self.session, self.org_id, await repository.staged_kpi_ids(self.session)
        )
        return WriteCounts(*await repository.merge_staging(self.session, self.org_id))
