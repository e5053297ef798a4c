"""The background task that keeps rollups current while the server runs."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.kit.loops import repeat_forever
from perfapi.ops.metrics import RollupMetrics
from perfapi.rollups.service import (
    REFRESH_BATCH,
    RefreshFailure,
    RefreshResult,
    RetryPolicy,
    count_parked,
    refresh,
)

log = logging.getLogger("perfapi.rollups")


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def refresh_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    metrics: RollupMetrics,
    clock: Callable[[], datetime] = _utc_now,
) -> None:
    """Every ``rollup_refresh_seconds``, work off the due changes. Cancelled at shutdown."""
    policy = RetryPolicy.from_settings(settings)
    # A round fails only for what no single change is to blame for (the database is
    # down, say): it is retried next interval; reads stay exact meanwhile.
    await repeat_forever(
        lambda: refresh_round(sessionmaker, policy, metrics, clock()),
        settings.rollup_refresh_seconds,
        "rollup refresh failed",
        log,
    )


async def refresh_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    policy: RetryPolicy,
    metrics: RollupMetrics,
    now: datetime,
) -> RefreshResult:
    """Work off every change due at ``now``, a batch per transaction; log and count failures.

    Every batch recomputes or backs off at least one range, and failed changes
    become due only after ``now``, so the loop ends even when a whole batch fails.
    """
    total = RefreshResult()
    while True:
        async with sessionmaker() as session, session.begin():
            result = await refresh(session, now=now, policy=policy)
        # Reported after the commit, so that only what was stored is logged and counted.
        metrics.refreshed.inc(result.refreshed)
        for failure in result.failures:
            metrics.failures.inc()
            _log_failure(failure)
        total += result
        if result.claimed < REFRESH_BATCH and not result.deferred:
            break
    async with sessionmaker() as session:
        metrics.parked.set(await count_parked(session))
    return total


def _log_failure(failure: RefreshFailure) -> None:
    fields = {
        "org_id": failure.org_id,
        "kpi_id": failure.kpi_id,
        "first_day": failure.first_day,
        "last_day": failure.last_day,
        "changes": failure.changes,
        "attempts": failure.attempts,
        "error": failure.error,
    }
    if failure.parked:
        log.error(
            "rollup change parked after %d failed tries; `perfapi rollups retry` queues it again",
            failure.attempts,
            extra=fields | {"parked": failure.parked},
            exc_info=failure.exception,
        )
    if failure.parked < failure.changes:
        log.warning(
            "rollup change failed; retrying at %s",
            failure.next_attempt_at,
            extra=fields | {"next_attempt_at": failure.next_attempt_at},
            exc_info=None if failure.parked else failure.exception,
        )
