"""Ingestion throughput and memory, measured side by side in one run.

    python -m bench.ingest [--points 500000] [--batch 5000] [--concurrency 4]
    python -m bench.ingest --memory [--memory-points 1000000] [--memory-requests 8]

Throughput, against one PostgreSQL in one run, each write into an empty table:
  (a) raw asyncpg copy_records_to_table of N points into a scratch table shaped
      like `points` (same columns and primary key, range-partitioned by month the
      same way, with the partitions of the points' months), in one COPY;
  (b) the same N points through POST /v1/points to a real `perfapi serve`
      (uvicorn, one worker) in JSON batches over HTTP;
  (c) the same batches again with changed values: every point already exists.
(b) and (c) run twice: one request at a time, then `--concurrency` requests in
flight (as `perfapi import` or any loader would send them). Prints points/s
and the ratios to (a). Target: (b)/(a) >= 0.7 with requests in flight. Then the
CPU each point took (this process, the server, the PostgreSQL backends of the
database) and the rate that CPU allows on the machine's cores, for each of them.

Memory: one application/x-ndjson request of 1,000,000 points, streamed by the
client; prints the growth of the server's peak RSS (VmHWM) over its RSS before.
Target: under 150 MB. Then `--memory-requests` (8) concurrent requests, each of
a maximum-size JSON body (as many points as fit under the JSON limit), and the
same points as eight concurrent NDJSON streams, each format against a fresh
server and database; prints both growths side by side. Target: JSON under 1 GB.
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import msgspec

from bench.common import (
    Server,
    fresh_database,
    libpq_url,
    reset_peak_rss,
    rss_kib,
    running_server,
)
from bench.cpu import Usage, cores_between, cpu_seconds
from perfapi.config import Settings
from perfapi.points.months import months_of, start_of
from perfapi.points.records import dimensions_key

KPI_KEYS = [f"bench.kpi_{number}" for number in range(5)]
TEAMS = ["emea", "amer", "apac", "anz"]
START = datetime(2020, 1, 1, tzinfo=UTC)


def points(count: int, value_offset: float = 0.0, first: int = 0) -> Iterator[dict[str, object]]:
    """Distinct (kpi, ts, team) points; deterministic so a second pass hits the same keys.

    Point number n is the same whatever ``first``: requests sent with different
    ``first`` ranges write different points.
    """
    per_minute = len(KPI_KEYS) * len(TEAMS)
    for number in range(first, first + count):
        minute, rest = divmod(number, per_minute)
        kpi, team = divmod(rest, len(TEAMS))
        yield {
            "kpi": KPI_KEYS[kpi],
            "ts": (START + timedelta(minutes=minute)).isoformat(),
            "value": float(number % 1000) + value_offset,
            "dimensions": {"team": TEAMS[team]},
        }


def json_bodies(count: int, batch: int, value_offset: float = 0.0) -> list[bytes]:
    bodies, current = [], []
    for point in points(count, value_offset):
        current.append(point)
        if len(current) == batch:
            bodies.append(msgspec.json.encode({"points": current}))
            current = []
    if current:
        bodies.append(msgspec.json.encode({"points": current}))
    return bodies


def create_kpis(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, headers=server.headers) as client:
        for key in KPI_KEYS:
            client.post("/v1/kpis", json={"key": key, "name": key}).raise_for_status()


def post_all(server: Server, bodies: list[bytes], concurrency: int) -> tuple[float, int, int]:
    """POST every body, `concurrency` requests in flight; (seconds, inserted, updated)."""

    async def run() -> tuple[float, int, int]:
        totals = {"inserted": 0, "updated": 0}
        queue = list(reversed(bodies))
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=server.headers, timeout=300, limits=limits
        ) as client:

            async def worker() -> None:
                while queue:
                    body = queue.pop()
                    response = await client.post(
                        "/v1/points", content=body, headers={"Content-Type": "application/json"}
                    )
                    response.raise_for_status()
                    for name in totals:
                        totals[name] += response.json()[name]

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started, totals["inserted"], totals["updated"]

    return asyncio.run(run())


async def _execute(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def raw_copy(database_url: str, count: int) -> tuple[float, "CpuPerPoint"]:
    """COPY the same points, as rows, into a scratch table shaped and partitioned like
    `points` (without its triggers: this is the floor)."""
    org_id, kpi_ids = uuid.uuid4(), {key: uuid.uuid4() for key in KPI_KEYS}
    records = []
    for point in points(count):
        dims_hash, dims_json = dimensions_key(point["dimensions"])  # type: ignore[arg-type]
        ts = datetime.fromisoformat(str(point["ts"]))
        records.append(
            (org_id, kpi_ids[str(point["kpi"])], ts, dims_hash, point["value"], dims_json)
        )
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(
            "CREATE TABLE points_raw (LIKE points INCLUDING ALL) PARTITION BY RANGE (ts)"
        )
        for month in sorted(months_of(record[2] for record in records)):
            await connection.execute(
                f"CREATE TABLE points_raw_{month} PARTITION OF points_raw FOR VALUES "
                f"FROM ('{start_of(month).isoformat()}') TO ('{start_of(month + 1).isoformat()}')"
            )
        backend = connection.get_server_pid()
        backend_before, client_before = cpu_seconds(backend), time.process_time()
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "points_raw",
            records=records,
            columns=("org_id", "kpi_id", "ts", "dims_hash", "value", "dimensions"),
        )
        elapsed = time.perf_counter() - started
        spent = CpuPerPoint(
            client=(time.process_time() - client_before) / count,
            server=0.0,
            postgres=(cpu_seconds(backend) - backend_before) / count,
        )
        await connection.execute("DROP TABLE points_raw")
    finally:
        await connection.close()
    return elapsed, spent


@dataclass(frozen=True)
class CpuPerPoint:
    """CPU seconds per point: this process, the server's, its database's backends."""

    client: float
    server: float
    postgres: float

    @classmethod
    def median(cls, samples: list["CpuPerPoint"]) -> "CpuPerPoint":
        return cls(
            statistics.median(sample.client for sample in samples),
            statistics.median(sample.server for sample in samples),
            statistics.median(sample.postgres for sample in samples),
        )


def usage(server: Server, database_url: str) -> Usage:
    async def read() -> Usage:
        connection = await asyncpg.connect(libpq_url(database_url))
        try:
            return await Usage.now(server, connection)
        finally:
            await connection.close()

    return asyncio.run(read())


def timed_posts(
    server: Server, database_url: str, bodies: list[bytes], concurrency: int, count: int
) -> tuple[float, int, int, CpuPerPoint]:
    """:func:`post_all`, and the CPU it took per point."""
    before = usage(server, database_url)
    seconds, inserted, updated = post_all(server, bodies, concurrency)
    after = usage(server, database_url)
    cores, window = cores_between(before, after), after.wall - before.wall
    spent = CpuPerPoint(
        client=cores.client * window / count,
        server=cores.server * window / count,
        postgres=cores.postgres * window / count,
    )
    return seconds, inserted, updated, spent


def throughput(count: int, batch: int, concurrency: int, repeats: int) -> None:
    """Every measurement `repeats` times, interleaved; the medians are compared.

    This machine is noisy (a VM sharing its cores): interleaving and medians keep
    one slow moment from deciding a ratio.
    """
    samples: dict[str, list[float]] = {}
    cpu: dict[str, list[CpuPerPoint]] = {}

    def record(name: str, seconds: float, spent: CpuPerPoint) -> None:
        samples.setdefault(name, []).append(seconds)
        cpu.setdefault(name, []).append(spent)

    with fresh_database() as database_url, running_server(database_url) as server:
        create_kpis(server)
        new_bodies = json_bodies(count, batch)
        update_bodies = json_bodies(count, batch, value_offset=0.5)
        for _ in range(repeats):
            record("raw", *asyncio.run(raw_copy(database_url, count)))
            for in_flight in (1, concurrency):
                asyncio.run(_execute(database_url, "TRUNCATE points"))
                new_seconds, inserted, _, new_cpu = timed_posts(
                    server, database_url, new_bodies, in_flight, count
                )
                assert inserted == count, inserted
                update_seconds, _, updated, update_cpu = timed_posts(
                    server, database_url, update_bodies, in_flight, count
                )
                assert updated == count, updated
                record(f"new {in_flight}", new_seconds, new_cpu)
                record(f"update {in_flight}", update_seconds, update_cpu)
    median = {name: statistics.median(values) for name, values in samples.items()}
    raw_seconds = median["raw"]
    print(f"points: {count:,} in batches of {batch:,}; medians of {repeats} runs")
    print(f"(a) raw COPY, one call:                     {count / raw_seconds:>10,.0f} points/s")
    for in_flight in (1, concurrency):
        label = "1 request at a time" if in_flight == 1 else f"{in_flight} requests in flight"
        for kind, name in (("(b) new points", "new"), ("(c) all exist ", "update")):
            rate = count / median[f"{name} {in_flight}"]
            print(f"{kind}, {label + ':':<26}{rate:>10,.0f} points/s")
    for in_flight in (1, concurrency):
        label = "1 request at a time" if in_flight == 1 else f"{in_flight} requests in flight"
        new_ratio = raw_seconds / median[f"new {in_flight}"]
        update_ratio = raw_seconds / median[f"update {in_flight}"]
        target = "  (target >= 0.7)" if in_flight > 1 else ""
        print(f"ratio (b)/(a) new points, {label}: {new_ratio:.2f}{target}")
        print(f"ratio (c)/(a) pure update, {label}: {update_ratio:.2f}")
    print_cpu(cpu, concurrency)


def print_cpu(cpu: dict[str, list[CpuPerPoint]], concurrency: int) -> None:
    """Where each point's CPU went, and the rate that allows on this machine's cores."""
    cores = os.cpu_count() or 1
    print(f"CPU per point (medians), and the most it allows on {cores} idle cores:")
    labels = {"raw": "(a) raw COPY (the load generator encodes the rows)"}
    for in_flight in (1, concurrency):
        label = "1 at a time" if in_flight == 1 else f"{in_flight} in flight"
        labels[f"new {in_flight}"] = f"(b) new points, {label}"
        labels[f"update {in_flight}"] = f"(c) all exist, {label}"
    for name, label in labels.items():
        spent = CpuPerPoint.median(cpu[name])
        total = spent.client + spent.server + spent.postgres
        print(
            f"  {label + ':':<52} perfapi {spent.server * 1e6:4.2f} us, PostgreSQL "
            f"{spent.postgres * 1e6:4.2f} us, load generator {spent.client * 1e6:4.2f} us: "
            f"{total * 1e6:4.2f} us, at most {cores / total:>9,.0f} points/s"
        )


def ndjson_stream(count: int, first: int = 0) -> Iterator[bytes]:
    lines = []
    for point in points(count, first=first):
        lines.append(msgspec.json.encode(point))
        if len(lines) == 10_000:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


async def ndjson_async(count: int, first: int) -> AsyncIterator[bytes]:
    for chunk in ndjson_stream(count, first):
        yield chunk
        await asyncio.sleep(0)  # let the other streams of this client take turns


def warm_up(client: httpx.Client) -> None:
    """One small request of each format, so imports and pools are not counted."""
    for content, content_type in (
        (b"".join(ndjson_stream(20_000)), "application/x-ndjson"),
        (json_bodies(20_000, 20_000, value_offset=0.5)[0], "application/json"),
    ):
        client.post(
            "/v1/points", content=content, headers={"Content-Type": content_type}
        ).raise_for_status()


@contextmanager
def warm_server() -> Iterator[tuple[Server, httpx.Client]]:
    """A server on a fresh database with the bench's KPIs, warmed up, and a client of it."""
    with (
        fresh_database() as database_url,
        running_server(database_url) as server,
        httpx.Client(base_url=server.base_url, headers=server.headers, timeout=600) as client,
    ):
        create_kpis(server)
        warm_up(client)
        yield server, client


def one_ndjson_request(count: int) -> None:
    with warm_server() as (server, client):
        before = rss_kib(server.pid)
        reset_peak_rss(server.pid)
        started = time.perf_counter()
        response = client.post(
            "/v1/points",
            content=ndjson_stream(count),
            headers={"Content-Type": "application/x-ndjson"},
        )
        seconds = time.perf_counter() - started
        response.raise_for_status()
        peak = rss_kib(server.pid, "VmHWM")
    growth_mb = (peak - before) / 1024
    print(f"one NDJSON request of {count:,} points: {response.json()}")
    print(f"took {seconds:.1f} s ({count / seconds:,.0f} points/s)")
    print(f"server RSS before: {before / 1024:.1f} MB, peak during: {peak / 1024:.1f} MB")
    print(f"peak RSS growth: {growth_mb:.1f} MB  (target < 150 MB)")


def largest_json_body(first: int, limit: int) -> tuple[bytes, int]:
    """The body of as many consecutive points (from point ``first``) as fit in ``limit``."""
    sample = 10_000
    per_point = len(msgspec.json.encode({"points": list(points(sample, first=first))})) / sample
    count = int(limit / per_point)
    while True:
        body = msgspec.json.encode({"points": list(points(count, first=first))})
        if len(body) <= limit:
            return body, count
        count -= max(1, count // 500)


@dataclass
class Concurrent:
    growth_kib: int
    seconds: float
    received: int


def concurrent_requests(
    media_type: str, bodies: Callable[[int], Iterable[bytes | AsyncIterator[bytes]]], requests: int
) -> Concurrent:
    """``requests`` bodies sent at once to a fresh server; its peak RSS growth."""
    with warm_server() as (server, _client):
        contents = list(bodies(requests))

        async def send_all() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=requests)
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=server.headers, timeout=1800, limits=limits
            ) as concurrent:
                return await asyncio.gather(
                    *(
                        concurrent.post(
                            "/v1/points", content=content, headers={"Content-Type": media_type}
                        )
                        for content in contents
                    )
                )

        before = rss_kib(server.pid)
        reset_peak_rss(server.pid)
        started = time.perf_counter()
        responses = asyncio.run(send_all())
        seconds = time.perf_counter() - started
        peak = rss_kib(server.pid, "VmHWM")
    for response in responses:
        response.raise_for_status()
    received = sum(response.json()["received"] for response in responses)
    return Concurrent(peak - before, seconds, received)


def concurrent_memory(requests: int) -> None:
    limit = Settings.model_fields["max_points_json_bytes"].default
    sizes: list[int] = []
    counts: list[int] = []

    def json_contents(requests: int) -> Iterator[bytes]:
        first = 0
        for _ in range(requests):
            body, count = largest_json_body(first, limit)
            sizes.append(len(body))
            counts.append(count)
            first += count
            yield body

    json_run = concurrent_requests("application/json", json_contents, requests)

    def ndjson_contents(requests: int) -> Iterator[AsyncIterator[bytes]]:
        first = 0
        for count in counts[:requests]:
            yield ndjson_async(count, first)
            first += count

    ndjson_run = concurrent_requests("application/x-ndjson", ndjson_contents, requests)
    print(
        f"{requests} concurrent requests of {min(counts):,}-{max(counts):,} points each "
        f"(JSON bodies of {max(sizes) / 2**20:.1f} MiB, limit {limit / 2**20:.0f} MiB), "
        "each format against a fresh server:"
    )
    for name, run in (("JSON", json_run), ("NDJSON", ndjson_run)):
        print(
            f"  {name + ':':<8} peak RSS growth {run.growth_kib / 1024:>7.1f} MB, "
            f"{run.received:,} points in {run.seconds:.1f} s "
            f"({run.received / run.seconds:,.0f} points/s)"
        )
    print(
        f"JSON / NDJSON growth: {json_run.growth_kib / max(1, ndjson_run.growth_kib):.1f}x  "
        "(target: JSON < 1024 MB)"
    )


def memory(count: int, requests: int) -> None:
    one_ndjson_request(count)
    concurrent_memory(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="measure memory instead")
    parser.add_argument("--memory-points", type=int, default=1_000_000)
    parser.add_argument("--memory-requests", type=int, default=8)
    arguments = parser.parse_args()
    if arguments.memory:
        memory(arguments.memory_points, arguments.memory_requests)
    else:
        throughput(arguments.points, arguments.batch, arguments.concurrency, arguments.repeats)


if __name__ == "__main__":
    main()
