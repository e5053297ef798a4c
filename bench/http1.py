"""A light HTTP/1.1 client for load generators that share the machine they measure.

One connection, kept between requests (or not), its responses parsed by httptools (the
C parser uvicorn serves with). A request costs the client about a sixth of the CPU
httpx spends on it (0.5 against 2.9 ms for bench.scale's reads, answers of 20 to
200 KB): on a 2-core machine, that is CPU the server being measured keeps.
"""

import asyncio
import contextlib
from urllib.parse import urlsplit

import httptools

READ_BYTES = 256 * 1024


class ClosedUnansweredError(ConnectionResetError):
    """The server closed the connection before answering a byte."""


class _Answer:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Http1:
    def __init__(self, base_url: str, headers: dict[str, str], *, keep_alive: bool = True) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"not an http://host:port URL: {base_url}")
        self.host, self.port = parts.hostname, parts.port
        self.keep_alive = keep_alive
        fixed = {"Host": f"{self.host}:{self.port}", **headers}
        if not keep_alive:
            fixed["Connection"] = "close"
        self._headers = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> tuple[int, bytes]:
        """The status and body of the answer."""
        head = f"{method} {path} HTTP/1.1\r\n{self._headers}"
        if body or method != "GET":
            head += f"Content-Length: {len(body)}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        message = head.encode() + b"\r\n" + body
        reused = self._streams is not None
        try:
            return await self._exchange(message)
        except ClosedUnansweredError:
            if not reused:
                raise
            # The server had closed the kept connection (idle too long): send again.
            return await self._exchange(message)

    async def _exchange(self, message: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        try:
            writer.write(message)
            answer = _Answer()
            parser = httptools.HttpResponseParser(answer)
            received = False
            while not answer.complete:
                data = await reader.read(READ_BYTES)
                if not data:
                    if received:
                        raise ConnectionResetError("the server closed the connection mid-answer")
                    raise ClosedUnansweredError("the server closed the connection")
                received = True
                parser.feed_data(data)
            status: int = parser.get_status_code()
            kept = self.keep_alive and parser.should_keep_alive()
        except BaseException:
            await self.close()
            raise
        if not kept:
            await self.close()
        return status, b"".join(answer.chunks)

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
