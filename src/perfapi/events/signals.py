"""Waking live streams when events commit, whichever server process committed them.

Each process keeps one connection listening on PostgreSQL's ``perfapi_events``
channel; the trigger that positions events at commit notifies it with the org's
id (delivered only if the transaction commits). A notification only wakes the
org's streams: they read the log after their last position, so a notification
lost while the connection was down costs nothing but the wake-up, which every
stream gets anyway when the connection comes back.
"""

import asyncio
import logging
from collections import defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from perfapi.db.availability import is_database_unavailable

log = logging.getLogger(__name__)

CHANNEL = "perfapi_events"
RECONNECT_SECONDS = 2.0


class EventSignals:
    """The streams of this process waiting for their org's next events."""

    def __init__(self) -> None:
        self._waiting: dict[UUID, set[asyncio.Event]] = defaultdict(set)
        self._idle = asyncio.Condition()
        self._watching_all: set[asyncio.Event] = set()

    def watch_all(self) -> asyncio.Event:
        """Set at every notification, of any org (for this process's webhook senders)."""
        wake = asyncio.Event()
        self._watching_all.add(wake)
        return wake

    def unwatch_all(self, wake: asyncio.Event) -> None:
        self._watching_all.discard(wake)

    def subscribe(self, org_id: UUID) -> asyncio.Event:
        wake = asyncio.Event()
        self._waiting[org_id].add(wake)
        return wake

    async def unsubscribe(self, org_id: UUID, wake: asyncio.Event) -> None:
        waiting = self._waiting.get(org_id)
        if waiting is not None:
            waiting.discard(wake)
            if not waiting:
                del self._waiting[org_id]
        async with self._idle:
            self._idle.notify_all()

    def subscribers(self, org_id: UUID) -> int:
        return len(self._waiting.get(org_id, ()))

    async def until_no_subscribers(self, org_id: UUID) -> None:
        """Return once no stream of the org waits (a stream ends when its client leaves)."""
        async with self._idle:
            await self._idle.wait_for(lambda: self.subscribers(org_id) == 0)

    def wake(self, org_id: UUID) -> None:
        for wake in self._waiting.get(org_id, ()):
            wake.set()
        for wake in self._watching_all:
            wake.set()

    def wake_all(self) -> None:
        for waiting in [*self._waiting.values(), self._watching_all]:
            for wake in waiting:
                wake.set()

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            org_id = UUID(payload)
        except ValueError:
            return  # not one of ours
        self.wake(org_id)

    async def listen_forever(self, engine: AsyncEngine) -> None:
        """Listen on one connection of ``engine``'s; reconnect when it is lost."""
        while True:
            try:
                async with engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver = raw.driver_connection
                    assert driver is not None
                    lost = asyncio.Event()
                    driver.add_termination_listener(lambda _connection, lost=lost: lost.set())
                    await driver.add_listener(CHANNEL, self._notified)
                    # Whatever committed while nobody listened is read now.
                    self.wake_all()
                    await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "listening for events failed", exc_info=not is_database_unavailable(exc)
                )
            self.wake_all()
            await asyncio.sleep(RECONNECT_SECONDS)
