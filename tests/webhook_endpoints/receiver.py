"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records what it
gets and answers as scripted."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

PATIENCE = 30.0
"""Every wait for a delivery is bounded: a lost delivery fails the test, never hangs it."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next of ``statuses`` (200 once they run out); a
    status of 0 holds the request unanswered until the receiver stops."""

    statuses: list[int] = field(default_factory=list)
    answer_body: bytes = b"ok"
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status = self.statuses.pop(0) if self.statuses else 200
        async with self._arrived:
            self.received.append(Received(scope["path"], headers, body))
            self._arrived.notify_all()
        if status == 0:
            await self._release.wait()
            return
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": self.answer_body})

    async def wait_for(self, count: int) -> list[Received]:
        """Until ``count`` requests have arrived (at most PATIENCE); all received so far."""
        async with asyncio.timeout(PATIENCE), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    def release(self) -> None:
        self._release.set()


@asynccontextmanager
async def receiving(receiver: Receiver | None = None) -> AsyncIterator[Receiver]:
    receiver = receiver or Receiver()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(
        uvicorn.Config(receiver, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    try:
        yield receiver
    finally:
        receiver.release()
        server.should_exit = True
        await task
        sock.close()
