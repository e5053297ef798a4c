"""Throughput of `perfapi serve --workers 2` against `--workers 1`, side by side in one run.

    python -m bench.scale [--points 1000000] [--rounds 5] [--read-seconds 10]
                          [--read-clients 16] [--ingest-points 400000] [--ingest-clients 8]
                          [--batch 2000] [--mix goal-achievement,progress,series]
                          [--connect stagger|burst|per-request]

The bench.reads dataset (500 KPIs with targets, 1,000 objectives, 4,000 key results,
--points points over 2025) is built once through the API of a real `perfapi serve`,
its rollups refreshed and the database analyzed; a second org gets 5 KPIs to ingest
into. The database is then copied (CREATE DATABASE ... TEMPLATE), and two servers run
at once, each a real `perfapi serve` on its own copy: one with --workers 1, one with
--workers 2. Rounds alternate between them (ABBA), each server at rest when its turn
starts (no rollup change or derived-event evaluation left over from the round before):
- reads: --read-clients clients, each sending its next request when the last one is
  answered, cycling through the --mix: GET /v1/reports/goal-achievement (1,000
  objectives), GET /v1/objectives/{root}/progress (111 objectives) and
  GET /v1/kpis/{kpi}/series (one year by day, a different KPI each time); requests
  answered within the window of --read-seconds that follows a ramp, per second;
- ingest: --ingest-clients clients POSTing JSON batches of --batch new points (the same
  batches to both servers, new points every round), until --ingest-points are sent;
  points answered while every client had a batch to send, per second.
Clients start 50 ms apart and keep their connection (see _delays for why; --connect
burst opens them all at once, per-request connects for every request).
Plain GETs: no If-None-Match, so no answer is a 304; nothing else caches a report
(each request reads the rollups and computes the report anew), so a fixed as_of
measures the same work on every request.

Prints every round, the medians, the ratios (targets: reads >= 1.4, ingest >= 1.3 on
a 2-core machine) and where the CPU went in the measured windows: this process (the
load generator), the server's processes, the PostgreSQL backends of its database, and
everything else on the machine (other databases, other programs).
"""

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import httpx
import msgspec

from bench.common import (
    TOKEN,
    Server,
    cloned_database,
    fresh_database,
    libpq_url,
    running_server,
)
from bench.cpu import Cores, Usage, cores_between
from bench.http1 import Http1
from bench.ingest import KPI_KEYS, points
from bench.reads import (
    PHASE_OFFSETS,
    SERIES_KPI,
    Endpoint,
    Strategy,
    create_strategy,
    endpoints,
    load_points,
    points_per_kpi,
)

T = TypeVar("T")

TARGETS = {"reads": 1.4, "ingest": 1.3}
INGEST_ORG = "ingest"
RAMP_SECONDS = 1.0  # reads: every client connected and busy before the window
STAGGER_SECONDS = 0.05  # between the first requests of two clients (but with "burst")
CONNECT = ("stagger", "burst", "per-request")
SETTLE_POLL_SECONDS = 0.2
SETTLE_TIMEOUT_SECONDS = 600.0
WORKLOADS = ("reads", "ingest")
# Each process keeps a connection per client it may serve at once: backends that live
# through a window have their CPU time counted (one that ends takes its time along).
SERVING = {"PERFAPI_DB_POOL_SIZE": "24"}
# --no-background: requests alone, without the rollup refresher and the evaluator of
# derived events working off what the ingest rounds wrote.
NO_BACKGROUND = {"PERFAPI_ROLLUP_REFRESH_SECONDS": "0", "PERFAPI_DERIVED_EVENTS_SECONDS": "0"}


# --- the dataset -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    token: str  # the first admin key (the reads org)
    ingest_token: str
    strategy: Strategy
    series_points: int


def _perfapi(database_url: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFAPI_")}
    env["PERFAPI_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "perfapi", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def build(database_url: str, total_points: int) -> Dataset:
    """bench.reads' dataset, rollups refreshed and analyzed, and an org to ingest into."""
    counts = points_per_kpi(total_points)
    with running_server(database_url) as server:
        strategy = asyncio.run(create_strategy(server, database_url))
        asyncio.run(load_points(database_url, strategy, counts, PHASE_OFFSETS[0], analyze=True))
        _perfapi(database_url, "orgs", "create", INGEST_ORG)
        scopes = ["--scope", "ingest", "--scope", "write"]
        printed = _perfapi(database_url, "keys", "create", "--org", INGEST_ORG, *scopes)
        match = TOKEN.search(printed)
        if match is None:
            raise RuntimeError(f"perfapi keys create printed no key: {printed}")
        ingest_token = match.group(0)
        with httpx.Client(
            base_url=server.base_url, headers=_bearer(ingest_token), trust_env=False
        ) as client:
            for key in KPI_KEYS:
                client.post("/v1/kpis", json={"key": key, "name": key}).raise_for_status()
        # Copied at rest: the servers measured start with nothing left to do.
        asyncio.run(_settle(database_url))
    print(
        f"dataset: {strategy.requests:,} requests in {strategy.seconds:.0f} s,"
        f" {total_points:,} points COPYed and refreshed",
        flush=True,
    )
    return Dataset(server.token, ingest_token, strategy, counts[SERIES_KPI])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _settle(database_url: str) -> None:
    """Until the server's background work is done: no rollup change left, every org's
    derived events evaluated at its latest data version."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while not await connection.fetchval(
            "SELECT NOT EXISTS (SELECT FROM rollup_changes) AND NOT EXISTS ("
            " SELECT FROM org_data_versions v"
            " LEFT JOIN derived_event_marks m ON m.org_id = v.org_id"
            " WHERE m.evaluated_version IS NULL OR m.evaluated_version < v.version)"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the server's background work did not finish in time")
            await asyncio.sleep(SETTLE_POLL_SECONDS)
    finally:
        await connection.close()


# --- the workloads ---------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    server: Server
    database_url: str
    ingest_headers: dict[str, str]
    samples: dict[str, list[tuple[float, Cores]]] = field(
        default_factory=lambda: {workload: [] for workload in WORKLOADS}
    )


READS = {
    "goal-achievement": "goal achievement",
    "progress": "progress tree",
    "series": "series, 1 year by day",
}  # --mix names, and bench.reads' names of the endpoints


def read_mix(dataset: Dataset, mix: list[str]) -> tuple[list[str], list[Endpoint]]:
    """The paths clients cycle through, in turn from the ``mix``; and the endpoints checked
    before measuring. The series is read of a different KPI each time."""
    checked = [
        endpoint
        for endpoint in endpoints(dataset.strategy, dataset.series_points)
        if endpoint.name in {READS[name] for name in mix}
    ]
    fixed = {endpoint.name: endpoint.path for endpoint in checked}
    series = "/v1/kpis/{}/series?from=2025-01-01&to=2026-01-01&interval=day"
    paths = [
        series.format(kpi_id) if name == "series" else fixed[READS[name]]
        for kpi_id in dataset.strategy.kpi_ids
        for name in mix
    ]
    return paths, checked


def check_reads(target: Target, checked: list[Endpoint]) -> None:
    """Each endpoint of the mix answers as bench.reads expects (warming the server)."""
    with httpx.Client(
        base_url=target.server.base_url, headers=target.server.headers, timeout=600, trust_env=False
    ) as client:
        for endpoint in checked:
            response = client.get(endpoint.path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {endpoint.path}: {response.status_code} {response.text}")
            endpoint.check(response.json())


Mark = Callable[[], Awaitable[None]]


async def _window(target: Target, work: Callable[[Mark], Awaitable[T]]) -> tuple[T, Cores]:
    """Run ``work``, which awaits the function it is given at the start and at the end of
    its measured window; the cores busy in that window."""
    marks: list[Usage] = []
    database = await asyncpg.connect(libpq_url(target.database_url))
    try:

        async def mark() -> None:
            marks.append(await Usage.now(target.server, database))

        result = await work(mark)
    finally:
        await database.close()
    start, end = marks
    return result, cores_between(start, end)


def _connection(target: Target, connect: str, headers: dict[str, str]) -> Http1:
    """A client's connection: kept, or (``per-request``) made for every request."""
    return Http1(target.server.base_url, headers, keep_alive=connect != "per-request")


def _delays(clients: int, connect: str) -> list[float]:
    """When each client sends its first request (and so connects).

    uvicorn's workers share one listening socket, and a worker that wakes to a pending
    connection accepts every connection pending: connections opened all at once can
    all land in one process, which then serves them for as long as they are kept,
    while the other idles (``burst``). Clients that start a moment apart connect to whichever
    process is free to accept at the time, as clients arriving over time or a proxy's
    pool growing with load would."""
    if connect == "burst":
        return [0.0] * clients
    return [number * STAGGER_SECONDS for number in range(clients)]


async def read_round(
    target: Target, paths: list[str], clients: int, seconds: float, connect: str
) -> tuple[float, Cores]:
    """Requests per second answered within the window, every client busy throughout."""

    async def work(mark: Mark) -> int:
        start = time.perf_counter() + RAMP_SECONDS
        end = start + seconds

        async def marker() -> None:
            await asyncio.sleep(start - time.perf_counter())
            await mark()
            await asyncio.sleep(end - time.perf_counter())
            await mark()

        async def client(first: int, delay: float) -> int:
            await asyncio.sleep(delay)
            http = _connection(target, connect, target.server.headers)
            answered = 0
            try:
                for number in itertools.count(first):
                    if time.perf_counter() >= end:
                        return answered
                    status, body = await http.request("GET", paths[number % len(paths)])
                    if status != 200:
                        raise RuntimeError(f"{status}: {body[:300]!r}")
                    answered += start <= time.perf_counter() <= end
                raise AssertionError("unreachable")
            finally:
                await http.close()

        spread = len(paths) // clients
        timing = asyncio.create_task(marker())
        counts = await asyncio.gather(
            *(
                client(number * spread, delay)
                for number, delay in enumerate(_delays(clients, connect))
            )
        )
        await timing
        return sum(counts)

    answered, cores = await _window(target, work)
    return answered / seconds, cores


async def ingest_round(
    target: Target, bodies: list[bytes], clients: int, connect: str
) -> tuple[float, Cores]:
    """Points per second answered from when the last client started until the last batch
    was taken: the window in which every client had a batch to send."""
    queue = deque(bodies)

    async def work(mark: Mark) -> tuple[int, float]:
        delays = _delays(clients, connect)
        window = {"start": time.perf_counter() + delays[-1]}
        inserted = 0

        async def marker() -> None:
            await asyncio.sleep(window["start"] - time.perf_counter())
            await mark()

        async def client(delay: float) -> None:
            nonlocal inserted
            await asyncio.sleep(delay)
            http = _connection(target, connect, target.ingest_headers)
            try:
                while queue:
                    body = queue.popleft()
                    if not queue:
                        window["end"] = time.perf_counter()
                        await mark()
                    status, answer = await http.request(
                        "POST", "/v1/points", body, "application/json"
                    )
                    if status != 200:
                        raise RuntimeError(f"{status}: {answer[:300]!r}")
                    if window["start"] <= time.perf_counter() and "end" not in window:
                        inserted += msgspec.json.decode(answer)["inserted"]
            finally:
                await http.close()

        timing = asyncio.create_task(marker())
        await asyncio.gather(*(client(delay) for delay in delays))
        await timing
        return inserted, window["end"] - window["start"]

    (inserted, seconds), cores = await _window(target, work)
    return inserted / seconds, cores


# --- the run ---------------------------------------------------------------------------------


def run(arguments: argparse.Namespace) -> None:
    began = time.perf_counter()
    with ExitStack() as stack:
        original = stack.enter_context(fresh_database())
        dataset = build(original, arguments.points)
        copy = stack.enter_context(cloned_database(original))
        targets = []
        for label, database_url, workers in (
            ("--workers 1", original, 1),
            ("--workers 2", copy, 2),
        ):
            server = stack.enter_context(
                running_server(
                    database_url,
                    SERVING | (NO_BACKGROUND if arguments.no_background else {}),
                    token=dataset.token,
                    workers=workers,
                )
            )
            targets.append(Target(label, server, database_url, _bearer(dataset.ingest_token)))
        paths, checked = read_mix(dataset, arguments.mix)
        for target in targets:
            check_reads(target, checked)
        print(
            f"{arguments.rounds} rounds, ABBA: reads {arguments.read_clients} clients for"
            f" {arguments.read_seconds:g} s; ingest {arguments.ingest_clients} clients,"
            f" {arguments.ingest_points:,} points in batches of {arguments.batch:,};"
            f" connections: {arguments.connect}"
            + ("; background work off" if arguments.no_background else ""),
            flush=True,
        )
        for number in range(arguments.rounds):
            order = targets if number % 2 == 0 else targets[::-1]
            bodies = json_bodies_from(number * arguments.ingest_points, arguments)
            for workload in WORKLOADS:
                for target in order:
                    if not arguments.no_background:
                        asyncio.run(_settle(target.database_url))
                    if workload == "reads":
                        measured = read_round(
                            target,
                            paths,
                            arguments.read_clients,
                            arguments.read_seconds,
                            arguments.connect,
                        )
                    else:
                        measured = ingest_round(
                            target, bodies, arguments.ingest_clients, arguments.connect
                        )
                    target.samples[workload].append(asyncio.run(measured))
            print_round(number + 1, targets)
    print_summary(targets, (time.perf_counter() - began) / 60)
    print_bounds(targets)


def json_bodies_from(first: int, arguments: argparse.Namespace) -> list[bytes]:
    """--ingest-points new points from point number ``first``, in JSON batches."""
    bodies, current = [], []
    for point in points(arguments.ingest_points, first=first):
        current.append(point)
        if len(current) == arguments.batch:
            bodies.append(msgspec.json.encode({"points": current}))
            current = []
    if current:
        bodies.append(msgspec.json.encode({"points": current}))
    return bodies


UNITS = {"reads": "requests/s", "ingest": "points/s"}


def print_round(number: int, targets: list[Target]) -> None:
    """The round's rates and ratios, and how busy the rest of the machine was meanwhile."""
    parts = []
    for workload in WORKLOADS:
        (one, one_cores), (two, two_cores) = (t.samples[workload][-1] for t in targets)
        parts.append(
            f"{workload} {one:,.1f} / {two:,.1f} {UNITS[workload]} ({two / one:.2f};"
            f" other {one_cores.other:.2f} / {two_cores.other:.2f} cores)"
        )
    print(f"round {number}: " + "; ".join(parts), flush=True)


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def print_summary(targets: list[Target], minutes: float) -> None:
    print()
    print(f"medians; total run {minutes:.1f} min; {os.cpu_count()} cores")
    print(f"{'':<22}{targets[0].label:>14}{targets[1].label:>14}  ratio  target")
    for workload in WORKLOADS:
        one, two = (_median(rate for rate, _ in t.samples[workload]) for t in targets)
        ratio = two / one
        verdict = "PASS" if ratio >= TARGETS[workload] else "MISS"
        print(
            f"{workload + ', ' + UNITS[workload]:<22}{one:>14,.1f}{two:>14,.1f}"
            f"  {ratio:5.2f}  >= {TARGETS[workload]}  {verdict}"
        )
    print()
    print("cores busy in the measured windows (medians over rounds):")
    print(
        f"{'':<24}{'load generator':>15}{'perfapi':>9}{'PostgreSQL':>12}{'other':>7}"
        "  perfapi per process"
    )
    for workload in WORKLOADS:
        for target in targets:
            cores = [sample for _, sample in target.samples[workload]]
            ranks = min(len(c.workers) for c in cores)
            per_process = [_median(c.workers[rank] for c in cores) for rank in range(ranks)]
            print(
                f"{workload + ', ' + target.label:<24}"
                f"{_median(c.client for c in cores):>15.2f}"
                f"{_median(c.server for c in cores):>9.2f}"
                f"{_median(c.postgres for c in cores):>12.2f}"
                f"{_median(c.other for c in cores):>7.2f}"
                f"  {' + '.join(f'{share:.2f}' for share in per_process)}"
            )


def print_bounds(targets: list[Target]) -> None:
    """What the CPU each request or point costs allows on this machine, were nothing else
    running: a server is bound by its processes (one core each) or by the machine's cores
    shared with PostgreSQL and the load generator, whichever is lower."""
    cores = os.cpu_count() or 1
    print()
    print(f"CPU per unit of work (medians), and the throughput it allows on {cores} idle cores:")
    for workload in WORKLOADS:
        unit = "request" if workload == "reads" else "1,000 points"
        scale = 1.0 if workload == "reads" else 1_000.0
        bounds = []
        for target, processes in zip(targets, (1, 2), strict=True):
            samples = target.samples[workload]
            server, postgres, client = (
                _median(getattr(c, part) / rate * scale for rate, c in samples)
                for part in ("server", "postgres", "client")
            )
            bound = min(processes / server, cores / (server + postgres + client)) * scale
            bounds.append(bound)
            print(
                f"  {workload}, {target.label}: perfapi {server * 1000:.1f} ms,"
                f" PostgreSQL {postgres * 1000:.1f} ms, load generator {client * 1000:.1f} ms"
                f" per {unit}: at most {bound:,.1f} {UNITS[workload]}"
            )
        print(f"  {workload}: ratio allowed {bounds[1] / bounds[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the dataset")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--read-seconds", type=float, default=10.0)
    parser.add_argument("--read-clients", type=int, default=16)
    parser.add_argument("--ingest-points", type=int, default=400_000, help="per round")
    parser.add_argument("--ingest-clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2_000, help="points per request")
    parser.add_argument(
        "--mix",
        type=lambda names: names.split(","),
        default=list(READS),
        help=f"the reads clients cycle through, comma-separated (default: {','.join(READS)})",
    )
    parser.add_argument(
        "--connect",
        choices=CONNECT,
        default="stagger",
        help="clients start 50 ms apart and keep their connection (stagger), start at once "
        "and keep it (burst), or connect for every request (per-request)",
    )
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="serve with the rollup refresher and the derived-event evaluator off",
    )
    arguments = parser.parse_args()
    if unknown := set(arguments.mix) - set(READS):
        parser.error(f"unknown reads in --mix: {', '.join(sorted(unknown))}")
    if min(arguments.rounds, arguments.read_clients, arguments.ingest_clients) < 1:
        parser.error("need at least one round and one client of each kind")
    if arguments.ingest_points < arguments.batch * arguments.ingest_clients * 4:
        parser.error("--ingest-points must fill at least 4 batches per ingest client")
    run(arguments)


if __name__ == "__main__":
    main()
