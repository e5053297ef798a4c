"""Per-source rate limits: a token bucket per source, in this process.

A burst of up to a minute's allowance passes; beyond it, 429 with Retry-After.
Each server process keeps its own buckets, so N replicas allow N times the
limit; it protects the database from a runaway sender, not a billing quota.
"""

import math
import time
from dataclasses import dataclass
from uuid import UUID


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[UUID, _Bucket] = {}

    def take(self, key: UUID, per_minute: int, now: float | None = None) -> float:
        """Take one token; return 0, or the seconds to wait when there is none."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=per_minute, updated=now)
        bucket.tokens = min(per_minute, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
