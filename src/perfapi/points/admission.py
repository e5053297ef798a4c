"""Large JSON point bodies, a few at a time: the others wait with their bodies unread.

NDJSON and CSV stream at constant memory. A JSON body is held whole while it is
read and split into its points, so it costs about twice its size (the body, and
a slice of it per point) before its points are decoded and written a batch at a
time (:mod:`perfapi.points.decoding`). Bodies up to ``large_points_json_bytes``
(declared by ``Content-Length``) cost little and go straight in. A larger body,
or one sent without ``Content-Length``, first takes one of
``large_points_json_slots`` slots of its process, before its request is
authenticated, so a waiting request holds neither its body nor a database
connection; it keeps the slot until its transaction is committed.

The rare large body that cannot be split (NaN or Infinity literals, unpaired
surrogate escapes, or not shaped ``{"points": [...]}``) is parsed whole, as small
bodies are, which costs far more: it waits until it holds every slot.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.datastructures import Headers

JSON = "application/json"


class Admission:
    """The slots of one process; ``waiting`` and ``admitted`` count requests for tests
    and metrics."""

    def __init__(self, slots: int, large_above: int, json_limit: int) -> None:
        self.slots = slots
        self.large_above = large_above
        self.json_limit = json_limit
        self.waiting = 0
        self.admitted = 0
        self._free = asyncio.Semaphore(slots)
        self._taking_all = asyncio.Lock()

    def needs_slot(self, headers: Headers) -> bool:
        """A JSON body larger than ``large_above``, or of unknown length, within the limit.

        A body declared past the JSON limit takes no slot: it is refused (413) unread.
        """
        media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type != JSON:
            return False
        declared = headers.get("content-length")
        if declared is None or not declared.isdigit():
            return True
        return self.large_above < int(declared) <= self.json_limit

    @asynccontextmanager
    async def slot(self) -> AsyncIterator["Ticket"]:
        ticket = Ticket(self)
        self.waiting += 1
        try:
            await self._free.acquire()
            ticket.held = 1
        finally:
            self.waiting -= 1
        self.admitted += 1
        try:
            yield ticket
        finally:
            self.admitted -= 1
            for _ in range(ticket.held):
                self._free.release()


class Ticket:
    """One admitted request's hold on the slots."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.held = 0

    @property
    def large_above(self) -> int:
        return self.admission.large_above

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        """Every slot, for parsing a large body whole; back to one slot afterwards.

        The request's own slot is given up first, so two requests doing this at
        once cannot each hold a slot the other waits for.
        """
        admission = self.admission
        self.held -= 1
        admission._free.release()
        admission.waiting += 1
        try:
            async with admission._taking_all:
                while self.held < admission.slots:
                    await admission._free.acquire()
                    self.held += 1
        finally:
            admission.waiting -= 1
        try:
            yield
        finally:
            while self.held > 1:
                self.held -= 1
                admission._free.release()
