"""Where rate-limit state lives: this process (:class:`LocalLimiter`) or Redis
(:class:`~perfapi.ratelimits.redis_store.RedisLimiter`), behind one protocol."""

import time
from collections.abc import Callable
from typing import Protocol

from perfapi.ratelimits import gcra

Clock = Callable[[], int]
"""Microseconds on some monotonic scale."""


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class Limiter(Protocol):
    async def take(self, key: str, limit: int) -> gcra.Decision | None:
        """Count one request of ``key`` against ``limit`` a minute. None: the store could
        not be asked, and the request passes unchecked."""
        ...

    async def aclose(self) -> None: ...


class LocalLimiter:
    """State in a dict of this process: N processes allow N times the limit."""

    # Callers whose allowance is whole again are dropped when the dict has grown past
    # twice its size at the last sweep, so it holds about the callers of the last minute.
    _MIN_SWEEP_SIZE = 1024

    def __init__(self, clock: Clock = monotonic_us) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._sweep_at = self._MIN_SWEEP_SIZE

    async def take(self, key: str, limit: int) -> gcra.Decision:
        now = self._clock()
        decision, tat = gcra.decide(self._tats.get(key), now, limit)
        if tat is not None:
            self._tats[key] = tat
            if len(self._tats) >= self._sweep_at:
                self._sweep(now)
        return decision

    def _sweep(self, now: int) -> None:
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._sweep_at = max(self._MIN_SWEEP_SIZE, 2 * len(self._tats))

    async def aclose(self) -> None:
        self._tats.clear()
