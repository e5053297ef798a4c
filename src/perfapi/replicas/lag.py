"""How far behind the primary a replica is, in seconds, from WAL positions alone.

``now() - pg_last_xact_replay_timestamp()`` on the replica is no measure of lag:
on a primary nobody writes to it grows by the second while the replica misses
nothing. Instead each check notes where the primary's WAL stood and when; a
replica that has replayed up to a noted position holds everything the primary
had committed at that moment. Its lag is the time since the newest such
moment, as of the check: 0 when it has the primary's latest position, and never
more than one check interval above the truth.
"""

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    position: int
    at: float  # a monotonic clock's reading


class WalHistory:
    """The primary's recent WAL positions, enough to place a replica in time."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._samples: deque[Sample] = deque()

    def record(self, position: int, at: float) -> None:
        self._samples.append(Sample(position, at))
        while self._samples[0].at < at - self.keep_seconds:
            self._samples.popleft()

    def lag(self, replayed: int | None) -> float | None:
        """Seconds the replica with WAL replayed up to ``replayed`` is behind, as of the
        newest sample; None when it is behind every sample kept (by how much more than
        the samples reach back is unknown)."""
        if not self._samples:
            raise ValueError("no position of the primary recorded yet")
        newest = self._samples[-1]
        if replayed is None:
            return None
        for sample in reversed(self._samples):
            if sample.position <= replayed:
                return newest.at - sample.at
        return None
