"""When a failed webhook delivery is tried again: the schedule, with jitter.

Pure: the caller passes the random number, so the schedule is testable exactly.
"""

JITTER = 0.1
"""Each wait is stretched or shrunk by up to this fraction, so the retries of many
deliveries that failed together (a receiver's outage) do not all land at once."""


def retry_delay(schedule: tuple[float, ...], failures: int, unit_random: float) -> float | None:
    """Seconds until the next try after the ``failures``-th failed try (1 for the
    first), or None when the schedule is spent. ``unit_random`` is in [0, 1)."""
    if failures < 1 or failures > len(schedule):
        return None
    return schedule[failures - 1] * (1 + JITTER * (2 * unit_random - 1))
