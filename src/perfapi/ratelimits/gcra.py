"""The generic cell rate algorithm (GCRA): a smooth limit of ``limit`` requests a
minute that lets a burst of a whole minute's allowance through.

The whole state of a caller is one number, its *theoretical arrival time* (TAT):
the instant by which every request it made would have been paid for at the steady
rate. That makes the in-process limiter a dict and the Redis one a single key read
and written by one script (``redis_store.py`` holds the same arithmetic in Lua).

Times are integer microseconds: exact in Lua's doubles too, so both backends decide
alike. Pure: no clock, no I/O.
"""

import math
from dataclasses import dataclass

WINDOW_SECONDS = 60
WINDOW_US = WINDOW_SECONDS * 1_000_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    """Requests that would pass right now, after this one."""
    wait_us: int
    """Until the next request would pass; 0 while ``remaining`` is above 0."""
    reset_us: int
    """Until the whole allowance is back."""

    @property
    def retry_after_seconds(self) -> int:
        """For ``Retry-After``: whole seconds, at least 1."""
        return max(1, math.ceil(self.wait_us / 1_000_000))

    @property
    def reset_seconds(self) -> int:
        """For the ``t`` of ``RateLimit``: with nothing left, when a request passes
        again; otherwise when the allowance is whole again."""
        until = self.wait_us if self.remaining == 0 else self.reset_us
        return math.ceil(until / 1_000_000)


def interval_us(limit: int) -> int:
    """The time one request costs. Rounded down (by under a microsecond a request),
    so a burst is exactly ``limit`` requests."""
    return max(1, WINDOW_US // limit)


def decide(tat: int | None, now: int, limit: int) -> tuple[Decision, int | None]:
    """Take one request at ``now`` from a caller whose stored TAT is ``tat`` (None: no
    state, a full allowance). Returns the decision and the TAT to store, or None when
    the request is refused and the state stays as it was."""
    interval = interval_us(limit)
    tolerance = interval * limit
    start = now if tat is None or tat < now else tat
    new_tat = start + interval
    allowed_at = new_tat - tolerance
    if allowed_at > now:
        return Decision(False, limit, 0, allowed_at - now, start - now), None
    remaining = (now + tolerance - new_tat) // interval
    wait = 0 if remaining > 0 else allowed_at + interval - now
    return Decision(True, limit, remaining, wait, new_tat - now), new_tat
