"""Keeping rollups current.

Writers of points append to ``rollup_changes`` (cheap, and never contended).
:func:`refresh` recomputes the logged day ranges from raw points, one range scan
each, so its cost follows the points in them; a background task calls it every
few seconds. A change it fails on is retried with backoff and then parked, without
holding up any other. Reads never wait for it (``perfapi.ranges``): they read days
with pending (or parked) changes from raw points, so an answer is exact either way.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.domain.segments import merge_day_ranges
from perfapi.rollups import repository
from perfapi.rollups.repository import ClaimedChange, ParkedChange

REFRESH_BATCH = 500
# PostgreSQL keeps 64 subtransactions of a transaction in shared memory; past that
# ("suboverflow") every other session's visibility checks slow down while it runs.
# Each recomputed range is a savepoint, so a batch recomputes at most this many.
MAX_RANGES_PER_BATCH = 48
# Enough of an error to tell failures apart in a listing; the log has the whole traceback.
ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How a change the refresher fails on is retried, and when it is set aside."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        return cls(
            max_attempts=settings.rollup_max_attempts,
            base_delay=timedelta(seconds=settings.rollup_retry_base_seconds),
            max_delay=timedelta(seconds=settings.rollup_retry_max_seconds),
        )

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try: base, 2 base, 4 base, ... capped."""
        # The exponent is capped first so that a huge count cannot overflow timedelta.
        return min(self.base_delay * (1 << min(max(attempts - 1, 0), 32)), self.max_delay)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class RefreshFailure:
    """One day range of one KPI that could not be recomputed, and what became of its changes."""

    org_id: UUID
    kpi_id: UUID
    first_day: date
    last_day: date
    changes: int
    attempts: int  # the most tries of any of its changes, this one included
    parked: int  # how many of its changes were set aside by this failure
    next_attempt_at: datetime | None  # when the rest are due again; None if all were parked
    error: str
    exception: Exception = field(compare=False, repr=False)


@dataclass(frozen=True)
class RefreshResult:
    claimed: int = 0
    refreshed: int = 0  # changes whose days were recomputed and which left the log
    failures: tuple[RefreshFailure, ...] = ()
    deferred: int = 0  # claimed beyond MAX_RANGES_PER_BATCH: due for the next batch

    def __add__(self, other: "RefreshResult") -> "RefreshResult":
        return RefreshResult(
            self.claimed + other.claimed,
            self.refreshed + other.refreshed,
            self.failures + other.failures,
            self.deferred + other.deferred,
        )


async def refresh(
    session: AsyncSession,
    org_id: UUID | None = None,
    *,
    now: datetime | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    limit: int = REFRESH_BATCH,
) -> RefreshResult:
    """Recompute the rollups of up to ``limit`` changes due at ``now`` (default: the clock).

    Per KPI under an advisory lock taken before reading raw points: a concurrent
    refresh of the same KPI waits and then sees this one's result, so an older
    snapshot can never overwrite a newer one.

    Each merged day range is recomputed in its own savepoint, so a range that fails
    (bad data, a bug) rolls back alone: the other ranges, KPIs and orgs of the
    batch still advance. Its changes stay in the log, due again after a growing
    delay and parked after ``policy.max_attempts`` tries; reads keep taking their
    days from raw points meanwhile. A lost connection is no fault of a change: it
    ends the whole batch, uncounted.
    """
    now = now if now is not None else datetime.now(UTC)
    claimed = await repository.claim_changes(session, org_id, limit, now)
    units = _units(claimed)
    # The oldest ranges first, so that no change waits behind a stream of newer ones;
    # then in KPI order, the order in which every refresher takes the KPI locks.
    chosen = sorted(units, key=lambda unit: unit.changes[0].id)[:MAX_RANGES_PER_BATCH]
    chosen.sort(key=lambda unit: (unit.org_id, unit.kpi_id, unit.first_day))
    locked: set[tuple[UUID, UUID]] = set()
    refreshed = 0
    failures: list[RefreshFailure] = []
    for unit in chosen:
        if (unit.org_id, unit.kpi_id) not in locked:
            # Taken outside the savepoints, so that a failed range does not give it up.
            await repository.lock_kpi_for_recompute(session, unit.org_id, unit.kpi_id)
            locked.add((unit.org_id, unit.kpi_id))
        try:
            async with session.begin_nested():
                await repository.recompute_range(
                    session, unit.org_id, unit.kpi_id, unit.first_day, unit.last_day
                )
                await repository.forget_changes(
                    session, unit.org_id, [change.id for change in unit.changes]
                )
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            failures.append(await _record_failure(session, unit.changes, exc, now, policy))
        else:
            refreshed += len(unit.changes)
    deferred = len(claimed) - sum(len(unit.changes) for unit in chosen)
    return RefreshResult(len(claimed), refreshed, tuple(failures), deferred)


@dataclass(frozen=True)
class _Unit:
    """A merged day range of one KPI and the claimed changes inside it, oldest first."""

    org_id: UUID
    kpi_id: UUID
    first_day: date
    last_day: date
    changes: list[ClaimedChange]


def _units(claimed: Sequence[ClaimedChange]) -> list[_Unit]:
    """The claimed changes (oldest first) grouped by KPI and merged day range."""
    by_kpi: dict[tuple[UUID, UUID], list[ClaimedChange]] = defaultdict(list)
    for change in claimed:
        by_kpi[(change.org_id, change.kpi_id)].append(change)
    units: list[_Unit] = []
    for (org_id, kpi_id), changes in by_kpi.items():
        merged = merge_day_ranges((change.first_day, change.last_day) for change in changes)
        groups = [_Unit(org_id, kpi_id, first, last, []) for first, last in merged]
        for change in changes:
            # Merged ranges are disjoint and each change lies inside exactly one of them.
            groups[bisect_right(merged, (change.first_day, date.max)) - 1].changes.append(change)
        units += groups
    return units


async def _record_failure(
    session: AsyncSession,
    changes: Sequence[ClaimedChange],
    exc: Exception,
    now: datetime,
    policy: RetryPolicy,
) -> RefreshFailure:
    error = _short_error(exc)
    updates: list[tuple[int, int, datetime | None, datetime | None]] = []
    for change in changes:
        attempts = change.attempts + 1
        if attempts >= policy.max_attempts:
            updates.append((change.id, attempts, None, now))
        else:
            updates.append((change.id, attempts, now + policy.delay(attempts), None))
    await repository.record_failures(session, changes[0].org_id, updates, error)
    due = [next_at for _, _, next_at, _ in updates if next_at is not None]
    return RefreshFailure(
        org_id=changes[0].org_id,
        kpi_id=changes[0].kpi_id,
        first_day=min(change.first_day for change in changes),
        last_day=max(change.last_day for change in changes),
        changes=len(changes),
        attempts=max(attempts for _, attempts, _, _ in updates),
        parked=sum(1 for *_, parked_at in updates if parked_at is not None),
        next_attempt_at=min(due) if due else None,
        error=error,
        exception=exc,
    )


def _short_error(exc: Exception) -> str:
    """The error's class and first line, without the SQL and parameters SQLAlchemy appends.

    A database error's own exception (asyncpg's) is the cause of the DBAPI
    adapter's, which SQLAlchemy wraps as ``orig``.
    """
    orig = getattr(exc, "orig", None)
    root: BaseException = exc
    if isinstance(orig, BaseException):
        root = orig.__cause__ if orig.__cause__ is not None else orig
    lines = str(root).strip().splitlines()
    text = f"{type(root).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text[:ERROR_TEXT_LIMIT]


async def parked_changes(
    session: AsyncSession, org_id: UUID | None, kpi: str | None, limit: int
) -> tuple[list[ParkedChange], int]:
    """Up to ``limit`` parked changes, of one org and KPI (key or id) if given; and how many
    there are in all."""
    listed = await repository.list_parked(session, org_id, kpi, limit)
    return listed, await repository.count_parked(session, org_id, kpi)


async def retry_parked(session: AsyncSession, org_id: UUID | None, kpi: str | None) -> int:
    """Make parked changes due again now, with a fresh count of tries; return how many."""
    return await repository.unpark(session, org_id, kpi)


async def count_parked(session: AsyncSession) -> int:
    return await repository.count_parked(session)


async def point_versions(
    session: AsyncSession, org_id: UUID, kpi_ids: Sequence[UUID]
) -> dict[UUID, int]:
    """Each KPI's points version: a new number whenever a commit changed any of its
    points, 0 for a KPI never written; read in the session's snapshot, so it names the
    points every other read of the request sees."""
    found = await repository.point_versions(session, org_id, kpi_ids)
    return {kpi_id: found.get(kpi_id, 0) for kpi_id in kpi_ids}
