"""Keeping the monthly partitions of ``points``: made ahead, dropped past the retention.

A background task in every server process. One process at a time runs a round
(an advisory lock; the others skip theirs):

- the current month and the next ``points_partitions_ahead`` get their partition,
  so the writes of a new month usually find it made;
- with ``points_retention_days`` set, each partition whose whole month is older
  than now minus the retention is detached and dropped, with the day and month
  rollups of the month, in one transaction. It waits for its locks at most
  :data:`DROP_LOCK_TIMEOUT_MS`, so readers never queue long behind it; a drop
  that cannot take them is counted, logged and tried again next round, and so is
  one that fails otherwise, while the later months are dropped.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable, sqlstate
from perfapi.kit.loops import repeat_forever
from perfapi.ops.metrics import PartitionMetrics
from perfapi.points import partition_repository as repository
from perfapi.points.months import Month, month_of, partition_name, start_of
from perfapi.points.partitions import PROCESS_MONTHS, KnownMonths
from perfapi.rollups import repository as rollups

log = logging.getLogger("perfapi.points.partitions")

DROP_LOCK_TIMEOUT_MS = 1000
"""Longest wait of a drop for its locks (ACCESS EXCLUSIVE on ``points``): requests
arriving meanwhile queue behind it, so it gives up soon and retries next round."""

# Waiting for these means busy tables, not a fault: the drop is put off.
_LOCK_NOT_AVAILABLE = "55P03"
_DEADLOCK_DETECTED = "40P01"


@dataclass
class RoundResult:
    ran: bool = True  # False: another process was running a round
    created: list[Month] = field(default_factory=list)
    dropped: list[Month] = field(default_factory=list)
    deferred: Month | None = None  # the drop put off to the next round
    failed: list[Month] = field(default_factory=list)  # drops that failed, retried next round


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def maintain_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    metrics: PartitionMetrics,
    clock: Callable[[], datetime] = _utc_now,
) -> None:
    """A round at start, then every ``points_partition_maintenance_seconds``; cancelled at
    shutdown."""
    # A failed round is tried again next time; partitions are also made as points arrive.
    await repeat_forever(
        lambda: maintenance_round(sessionmaker, settings, metrics, clock()),
        settings.points_partition_maintenance_seconds,
        "partition maintenance failed",
        log,
    )


async def maintenance_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    metrics: PartitionMetrics,
    now: datetime,
    known: KnownMonths | None = None,
) -> RoundResult:
    """Make the months ahead, drop the expired ones; nothing if another process is at it.

    The round's lock is held by a transaction of its own for the whole round, while
    each step commits on its own: a drop holds its ACCESS EXCLUSIVE lock on
    ``points`` only for itself.
    """
    async with sessionmaker() as holder, holder.begin():
        if not await repository.try_lock_round(holder):
            return RoundResult(ran=False)
        if known is None:
            known = PROCESS_MONTHS.of(holder)
        result = RoundResult()
        result.created = await _create_ahead(sessionmaker, settings.points_partitions_ahead, now)
        known.add(result.created, now)
        metrics.created.inc(len(result.created))
        if settings.points_retention_days is not None:
            cutoff = now - timedelta(days=settings.points_retention_days)
            await _drop_expired(sessionmaker, cutoff, metrics, known, result)
    return result


async def _create_ahead(
    sessionmaker: async_sessionmaker[AsyncSession], ahead: int, now: datetime
) -> list[Month]:
    current = month_of(now)
    wanted = set(range(current, current + ahead + 1))
    async with sessionmaker() as session, session.begin():
        await repository.lock_partitions(session)
        missing = sorted(wanted - await repository.existing(session, wanted))
        for month in missing:
            await repository.create(session, month)
    if missing:
        log.info("made partitions of points", extra={"partitions": _names(missing)})
    return missing


async def _drop_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    cutoff: datetime,
    metrics: PartitionMetrics,
    known: KnownMonths,
    result: RoundResult,
) -> None:
    """Drop each partition whose whole month lies before ``cutoff``, oldest first; stop
    at the first that cannot take its locks in time."""
    async with sessionmaker() as session:
        partitions = await repository.every_partition(session)
    for month in sorted(month for month in partitions if start_of(month + 1) <= cutoff):
        known.discard(month)
        try:
            async with sessionmaker() as session, session.begin():
                await repository.set_lock_timeout(session, DROP_LOCK_TIMEOUT_MS)
                await repository.lock_partitions(session)
                if not await repository.existing(session, [month]):
                    continue  # dropped meanwhile (by hand, say)
                await repository.detach_and_drop(session, month)
                # Under the drop's lock, no refresher can be adding rollups of the month.
                start, end = start_of(month).date(), start_of(month + 1).date()
                gone = await rollups.forget_days(session, start, end)
                await repository.note_points_gone(session, gone)
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            if sqlstate(exc) in (_LOCK_NOT_AVAILABLE, _DEADLOCK_DETECTED):
                # Busy tables: a later month would wait as long.
                metrics.drops_deferred.inc()
                result.deferred = month
                log.warning(
                    "dropping an expired partition of points waited too long for its locks; "
                    "retrying next round",
                    extra={
                        "partition": partition_name(month),
                        "lock_timeout_ms": DROP_LOCK_TIMEOUT_MS,
                    },
                )
                return
            # Something of this month's own (a view made on its table, say): it stays,
            # and holds up no later month.
            metrics.drop_failures.inc()
            result.failed.append(month)
            log.exception(
                "dropping an expired partition of points failed; retrying next round",
                extra={"partition": partition_name(month)},
            )
            continue
        metrics.dropped.inc()
        result.dropped.append(month)
        log.info(
            "dropped an expired partition of points",
            extra={"partition": partition_name(month), "kpis": len(gone)},
        )


def _names(months: list[Month]) -> list[str]:
    return [partition_name(month) for month in months]
