"""The live stream of an org's events: Server-Sent Events read from the log.

A stream reads the log after its last position in short sessions of its own (no
connection is held while it waits), sends what it found, and waits for a
notification that more committed (``signals``). Resuming after ``Last-Event-ID``
is a read after that position: nothing committed in between is missed. When the
client leaves, the stream stops at its next send or heartbeat and unsubscribes.
"""

from collections.abc import AsyncIterator, Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette.event import ServerSentEvent

from perfapi.events import service
from perfapi.events.signals import EventSignals
from perfapi.events.types import EventType

BATCH = 500
"""Events read per statement: a stream resumed far back catches up a batch at a time."""


async def event_stream(
    sessionmaker: async_sessionmaker[AsyncSession],
    signals: EventSignals,
    org_id: UUID,
    after: int,
    types: Sequence[EventType] | None,
) -> AsyncIterator[ServerSentEvent]:
    wake = signals.subscribe(org_id)
    position = after
    try:
        while True:
            wake.clear()  # before reading: a commit during the read wakes the next wait
            async with sessionmaker() as session:
                rows = await service.page(session, org_id, position, types, BATCH)
            for row in rows:
                assert row.position is not None
                position = row.position
                yield ServerSentEvent(
                    id=service.event_id(position),
                    event=row.type,
                    data=service.as_json(row),
                )
            if len(rows) < BATCH:
                await wake.wait()
    finally:
        await signals.unsubscribe(org_id, wake)
