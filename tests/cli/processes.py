"""Run ``perfapi`` as a real process and watch its output."""

import asyncio
import os
import re
import signal
import socket
import sys
from dataclasses import dataclass, field

TOKEN_PATTERN = re.compile(r"pfk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}")
READY_MARK = "Uvicorn running on"
STARTUP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def perfapi_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFAPI_")}
    env.update(overrides)
    env["PERFAPI_LOG_JSON"] = "false"
    return env


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "perfapi",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@dataclass
class Server:
    process: asyncio.subprocess.Process
    port: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def printed_token(self) -> str | None:
        match = TOKEN_PATTERN.search("".join(self.stdout))
        return match.group(0) if match else None

    async def read_token(self) -> str:
        """Read stdout until the first-start key appears (it is printed before listening)."""
        assert self.process.stdout is not None
        stream = self.process.stdout

        async def until_token() -> str:
            while line := (await stream.readline()).decode():
                self.stdout.append(line)
                if token := self.printed_token():
                    return token
            raise AssertionError("perfapi serve printed no API key: " + "".join(self.stdout))

        return await asyncio.wait_for(until_token(), STARTUP_TIMEOUT)

    @property
    def ready(self) -> bool:
        return any(READY_MARK in line for line in self.stderr)

    async def stop(self) -> int:
        """SIGTERM a running server and collect its output and exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.exited()

    async def exited(self) -> int:
        """Wait for the process to end by itself.

        Never signal a process that may already have exited: Popen.send_signal polls,
        which reaps the child behind asyncio's back and loses its exit code.
        """
        remaining_out, remaining_err = await asyncio.wait_for(self.process.communicate(), 60)
        self.stdout.append(remaining_out.decode())
        self.stderr.append(remaining_err.decode())
        assert self.process.returncode is not None
        return self.process.returncode


async def spawn_serve(env: dict[str, str], *args: str) -> tuple[asyncio.subprocess.Process, int]:
    """``perfapi serve *args`` on a free port, its output piped; the process and the port."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "perfapi",
        "serve",
        *args,
        env={**env, "PERFAPI_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return process, port


async def start_server(env: dict[str, str]) -> Server:
    """Start ``perfapi serve``; return once it listens or once it has exited."""
    process, port = await spawn_serve(env)
    server = Server(process=process, port=port)

    async def until_ready_or_exit() -> None:
        assert process.stderr is not None
        while line := (await process.stderr.readline()).decode():
            server.stderr.append(line)
            if READY_MARK in line:
                return

    await asyncio.wait_for(until_ready_or_exit(), STARTUP_TIMEOUT)
    return server
