"""The newest events of each org with live streams in this process, read once per commit.

Without it, every stream of an org would read the log after every commit: ten
dashboards open on one org would make ten reads (and ten pooled connections) of
the same rows each time anything commits. A tail reads the org's new events once
when notified and keeps the latest ones, encoded; its streams take what follows
their own position from it. A stream further behind than the tail keeps (one
resumed from an old ``Last-Event-ID``, or one that fell behind a burst) reads the
log itself until it has caught up.
"""

import asyncio
from collections import deque
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.events import service
from perfapi.events.signals import EventSignals

KEPT = 2_000
"""Events a tail keeps: a burst larger than this sends slow streams to the log."""
BATCH = 500


@dataclass(frozen=True)
class Encoded:
    position: int
    type: str
    json: str


class OrgTail:
    def __init__(self, org_id: UUID, base: int, signals: EventSignals) -> None:
        self.org_id = org_id
        # Every event after ``base`` up to ``position`` is in ``events``.
        self.base = base
        self.position = base
        self.events: deque[Encoded] = deque()
        self.streams = 0
        self._signals = signals
        self._wake = signals.subscribe(org_id)
        self._wake.set()  # read once at the start
        self._lock = asyncio.Lock()

    async def catch_up(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Read what committed since the last notification, once for all streams."""
        async with self._lock:
            if not self._wake.is_set():
                return  # another stream read it already
            self._wake.clear()  # before reading: a commit during the read reads again
            while True:
                async with sessionmaker() as session:
                    rows = await service.page(session, self.org_id, self.position, None, BATCH)
                for row in rows:
                    assert row.position is not None
                    self.events.append(Encoded(row.position, row.type, service.as_json(row)))
                    self.position = row.position
                while len(self.events) > KEPT:
                    self.base = self.events.popleft().position
                if len(rows) < BATCH:
                    return

    def after(self, position: int) -> list[Encoded]:
        """The kept events after ``position`` (which must be at or after ``base``)."""
        return [event for event in self.events if event.position > position]

    async def close(self) -> None:
        await self._signals.unsubscribe(self.org_id, self._wake)


class Tails:
    """This process's tails, one per org with streams open."""

    def __init__(self, signals: EventSignals) -> None:
        self._signals = signals
        self._tails: dict[UUID, OrgTail] = {}

    def attach(self, org_id: UUID, position: int) -> OrgTail:
        tail = self._tails.get(org_id)
        if tail is None:
            tail = self._tails[org_id] = OrgTail(org_id, position, self._signals)
        tail.streams += 1
        return tail

    async def detach(self, tail: OrgTail) -> None:
        tail.streams -= 1
        if tail.streams == 0 and self._tails.get(tail.org_id) is tail:
            del self._tails[tail.org_id]
            await tail.close()
