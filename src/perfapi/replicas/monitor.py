"""The background task that keeps measuring the read replica while the server runs."""

import asyncio
import logging

from perfapi.db.availability import is_database_unavailable
from perfapi.replicas.replica import ReadReplica

log = logging.getLogger("perfapi.replicas")


async def monitor_forever(replica: ReadReplica, interval_seconds: float) -> None:
    """Check the replica every ``interval_seconds``. Cancelled at shutdown.

    Every process measures for itself: a check costs two tiny queries, and a
    process never routes on another one's stale verdict.
    """
    while True:
        try:
            await replica.check()
        except Exception as exc:
            # The primary did not answer: nothing is known of the lag this time, and the
            # requests that depend on the primary answer 503 anyway.
            log.warning("read replica check failed", exc_info=not is_database_unavailable(exc))
        await asyncio.sleep(interval_seconds)
