"""A real ``perfapi serve`` for the console: started with arguments, its output read as it
comes (so a long browser session never fills a pipe), the first-start key awaited."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.cli.processes import READY_MARK, STARTUP_TIMEOUT, TOKEN_PATTERN, spawn_serve


@dataclass
class Served:
    process: asyncio.subprocess.Process
    port: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    token_printed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def printed_token(self) -> str | None:
        match = TOKEN_PATTERN.search("".join(self.stdout))
        return match.group(0) if match else None

    async def until_ready(self) -> None:
        """Until the server listens; fails with its output if it ends first."""
        await self._until(self.ready)
        assert self.ready.is_set(), "perfapi serve ended before listening:\n" + self.output

    async def token(self) -> str:
        """The key a first start prints (before it listens); fails if none comes."""
        await self._until(self.token_printed)
        token = self.printed_token()
        assert token is not None, "perfapi serve printed no API key:\n" + self.output
        return token

    async def _until(self, event: asyncio.Event) -> None:
        waited = asyncio.ensure_future(event.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait_for(
                asyncio.wait({waited, ended}, return_when=asyncio.FIRST_COMPLETED),
                STARTUP_TIMEOUT,
            )
        finally:
            waited.cancel()
            ended.cancel()

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 60)
        await asyncio.wait_for(self.ended.wait(), 60)
        return code


async def _drain(stream: asyncio.StreamReader, lines: list[str], served: Served) -> None:
    while line := (await stream.readline()).decode():
        lines.append(line)
        if READY_MARK in line:
            served.ready.set()
        if TOKEN_PATTERN.search(line):
            served.token_printed.set()


@asynccontextmanager
async def serving(env: dict[str, str], *args: str) -> AsyncIterator[Served]:
    """``perfapi serve *args`` until the block ends; stopped with SIGTERM, as an operator would."""
    process, port = await spawn_serve(env, *args)
    assert process.stdout is not None
    assert process.stderr is not None
    served = Served(process=process, port=port)

    async def read_all() -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        await asyncio.gather(
            _drain(process.stdout, served.stdout, served),
            _drain(process.stderr, served.stderr, served),
        )
        served.ended.set()

    reader = asyncio.create_task(read_all())
    try:
        yield served
    finally:
        code = await served.stop()
        await reader
        assert code == 0, f"perfapi serve exited with {code}:\n" + served.output
