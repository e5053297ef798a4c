"""Ingestion throughput and memory, measured side by side in one run.

    python -m bench.ingest [--points 500000] [--batch 5000] [--concurrency 4]
    python -m bench.ingest --memory [--memory-points 1000000]

Throughput, against one PostgreSQL in one run, each write into an empty table:
  (a) raw asyncpg copy_records_to_table of N points into a scratch table shaped
      like `points` (same columns and primary key), in one COPY;
  (b) the same N points through POST /v1/points to a real `perfapi serve`
      (uvicorn, one worker) in JSON batches over HTTP;
  (c) the same batches again with changed values: every point already exists.
(b) and (c) run twice: one request at a time, then `--concurrency` requests in
flight (as `perfapi import` or any loader would send them). Prints points/s
and the ratios to (a). Target: (b)/(a) >= 0.6.

Memory: one application/x-ndjson request of 1,000,000 points, streamed by the
client; prints the growth of the server's peak RSS (VmHWM) over its RSS before.
Target: under 150 MB.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
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
from perfapi.points.records import dimensions_key

KPI_KEYS = [f"bench.kpi_{number}" for number in range(5)]
TEAMS = ["emea", "amer", "apac", "anz"]
START = datetime(2020, 1, 1, tzinfo=UTC)


def points(count: int, value_offset: float = 0.0) -> Iterator[dict[str, object]]:
    """Distinct (kpi, ts, team) points; deterministic so a second pass hits the same keys."""
    per_minute = len(KPI_KEYS) * len(TEAMS)
    for number in range(count):
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


async def raw_copy(database_url: str, count: int) -> float:
    """COPY the same points, as rows, into a scratch table shaped like `points`."""
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
        await connection.execute("CREATE TABLE points_raw (LIKE points INCLUDING ALL)")
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "points_raw",
            records=records,
            columns=("org_id", "kpi_id", "ts", "dims_hash", "value", "dimensions"),
        )
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE points_raw")
    finally:
        await connection.close()
    return elapsed


def throughput(count: int, batch: int, concurrency: int, repeats: int) -> None:
    """Every measurement `repeats` times, interleaved; the medians are compared.

    This machine is noisy (a VM sharing its cores): interleaving and medians keep
    one slow moment from deciding a ratio.
    """
    samples: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    with fresh_database() as database_url, running_server(database_url) as server:
        create_kpis(server)
        new_bodies = json_bodies(count, batch)
        update_bodies = json_bodies(count, batch, value_offset=0.5)
        for _ in range(repeats):
            record("raw", asyncio.run(raw_copy(database_url, count)))
            for in_flight in (1, concurrency):
                asyncio.run(_execute(database_url, "TRUNCATE points"))
                new_seconds, inserted, _ = post_all(server, new_bodies, in_flight)
                assert inserted == count, inserted
                update_seconds, _, updated = post_all(server, update_bodies, in_flight)
                assert updated == count, updated
                record(f"new {in_flight}", new_seconds)
                record(f"update {in_flight}", update_seconds)
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
        print(f"ratio (b)/(a) new points, {label}: {new_ratio:.2f}  (target >= 0.6)")
        print(f"ratio (c)/(a) pure update, {label}: {update_ratio:.2f}")


def ndjson_stream(count: int) -> Iterator[bytes]:
    lines = []
    for point in points(count):
        lines.append(msgspec.json.encode(point))
        if len(lines) == 10_000:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"


def memory(count: int) -> None:
    with (
        fresh_database() as database_url,
        running_server(database_url) as server,
        httpx.Client(base_url=server.base_url, headers=server.headers, timeout=600) as client,
    ):
        create_kpis(server)
        warm_up = client.post(
            "/v1/points",
            content=b"".join(ndjson_stream(20_000)),
            headers={"Content-Type": "application/x-ndjson"},
        )
        warm_up.raise_for_status()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="measure memory instead")
    parser.add_argument("--memory-points", type=int, default=1_000_000)
    arguments = parser.parse_args()
    if arguments.memory:
        memory(arguments.memory_points)
    else:
        throughput(arguments.points, arguments.batch, arguments.concurrency, arguments.repeats)


if __name__ == "__main__":
    main()
