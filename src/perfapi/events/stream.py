"""The live stream of an org's events: Server-Sent Events read from the log.

A stream sends what follows its position, taken from its org's tail (the newest
events, read once per commit for every stream of the org in this process:
``tails``), or from the log itself while it is further behind than the tail
keeps; then it waits for a notification that more committed (``signals``). No
connection is held while it waits. Resuming after ``Last-Event-ID`` is a read
after that position: nothing committed in between is missed. When the client
leaves, the stream stops at its next send or heartbeat and lets go of the tail.
"""

from collections.abc import AsyncIterator, Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette.event import ServerSentEvent

from perfapi.events import service
from perfapi.events.signals import EventSignals
from perfapi.events.tails import Tails
from perfapi.events.types import EventType

BATCH = 500
"""Events read per statement: a stream resumed far back catches up a batch at a time."""


def _sent(position: int, type_: str, data: str) -> ServerSentEvent:
    return ServerSentEvent(id=service.event_id(position), event=type_, data=data)


async def event_stream(
    sessionmaker: async_sessionmaker[AsyncSession],
    signals: EventSignals,
    tails: Tails,
    org_id: UUID,
    after: int,
    types: Sequence[EventType] | None,
) -> AsyncIterator[ServerSentEvent]:
    wanted = {event_type.value for event_type in types} if types else None
    wake = signals.subscribe(org_id)
    tail = tails.attach(org_id, after)
    position = after
    try:
        while True:
            wake.clear()  # before reading: a commit during the read wakes the next wait
            await tail.catch_up(sessionmaker)
            if position < tail.base:
                # Behind what the tail keeps: read the log (every type, so the position
                # moves on even when nothing wanted follows).
                async with sessionmaker() as session:
                    rows = await service.page(session, org_id, position, None, BATCH)
                for row in rows:
                    assert row.position is not None
                    position = row.position
                    if wanted is None or row.type in wanted:
                        yield _sent(row.position, row.type, service.as_json(row))
                if len(rows) == BATCH or position < tail.base:
                    continue
            for event in tail.after(position):
                position = event.position
                if wanted is None or event.type in wanted:
                    yield _sent(event.position, event.type, event.json)
            await wake.wait()
    finally:
        await signals.unsubscribe(org_id, wake)
        await tails.detach(tail)
