"""Where the CPU of a machine goes while a benchmark measures a server on it: the load
generator (this process), the server's processes, the PostgreSQL backends serving its
database, and everything else. Linux only (/proc); a PostgreSQL on another machine
counts as nothing."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.common import Server


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), utime and stime; [0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _parents() -> dict[int, int]:
    """Every process on the machine: pid -> parent pid."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[int(stat.parent.name)] = int(fields[1])
    return found


def _descendants(root: int, parents: dict[int, int]) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def _cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0  # ended meanwhile


def _machine_busy_seconds() -> float:
    """CPU time every core spent on anything but idling, since boot."""
    # user, nice, system, idle, iowait, irq, softirq, steal
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far, by part; and when they were read."""

    wall: float
    client: float
    server: dict[int, float]  # per process of the server measured
    backends: dict[int, float]  # per PostgreSQL backend serving its database
    machine: float

    @classmethod
    async def now(cls, server: Server, database: asyncpg.Connection) -> "Usage":
        # The backends on this machine of the server's database (not this connection's).
        # The servers keep their connections (a pool larger than their clients need), so
        # few backends end within a window, taking their time with them.
        backends = await database.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        server_pids = _descendants(server.pid, _parents())
        return cls(
            wall=time.perf_counter(),
            client=time.process_time(),
            server={pid: _cpu(pid) for pid in server_pids},
            backends={row["pid"]: _cpu(row["pid"]) for row in backends},
            machine=_machine_busy_seconds(),
        )


@dataclass(frozen=True)
class Cores:
    """Cores busy on average over a window, by part."""

    client: float
    server: float
    workers: list[float]  # the server's processes that served, busiest first
    postgres: float  # the backends of the server's database
    other: float  # everything else on the machine


def _spent(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds per process between two readings; one that started in between spent all
    of its time in between (one that ended is lost)."""
    return {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}


def cores_between(before: Usage, after: Usage) -> Cores:
    wall = after.wall - before.wall
    per_process = {pid: spent / wall for pid, spent in _spent(before.server, after.server).items()}
    server = sum(per_process.values())
    client = (after.client - before.client) / wall
    postgres = sum(_spent(before.backends, after.backends).values()) / wall
    machine = (after.machine - before.machine) / wall
    # A supervisor and a resource tracker idle beside --workers N's workers.
    workers = sorted((cores for cores in per_process.values() if cores > 0.02), reverse=True)
    return Cores(client, server, workers, postgres, max(machine - client - server - postgres, 0))
