"""The background task that keeps measuring the read replica while the server runs."""

import logging

from perfapi.kit.loops import repeat_forever
from perfapi.replicas.replica import ReadReplica

log = logging.getLogger("perfapi.replicas")


async def monitor_forever(replica: ReadReplica, interval_seconds: float) -> None:
    """Check the replica every ``interval_seconds``. Cancelled at shutdown.

    Every process measures for itself: a check costs two tiny queries, and a
    process never routes on another one's stale verdict.
    """
    # A check fails when the primary does not answer: nothing is known of the lag this
    # time, and the requests that depend on the primary answer 503 anyway.
    await repeat_forever(replica.check, interval_seconds, "read replica check failed", log)
