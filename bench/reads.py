"""Reads that must not grow with raw point volume, measured at two volumes in one run.

    python -m bench.reads [--small 100000] [--large 10000000] [--repeats 7] [--no-analyze]

One fresh database and one real `perfapi serve` (uvicorn, one worker). Through the
API: 500 KPIs (sum, avg, last, count; a few lower_is_better), a 2025 target for
each, 1,000 active objectives in a 3-level tree (10 roots x 9 children x 10
grandchildren), 4 key results each (2 reading KPIs, 2 checked in by hand, so
4,000 with 2,000 linked to the 500 KPIs), and a few objective-KPI links.

Points go straight into `points` with asyncpg COPY (ingestion speed is
bench.ingest's subject, not this one's), spread over 2025 for every KPI, followed
by the change-log rows ingestion writes; the server's own background refresher
then brings the rollups up to date, and the database is analyzed (unless
--no-analyze), before anything is timed. First --small points, then topped up
to --large in total, with timestamps that never collide.

Timed after each load, as of 2025-12-31: one warm-up call, then --repeats calls
one after the other, medians of wall time, of
  GET /v1/reports/goal-achievement (all 1,000 objectives),
  GET /v1/reports/alignment,
  GET /v1/objectives/{root}/progress (111 objectives, 444 key results),
  GET /v1/kpis/{kpi}/series, one year by day (365 buckets).
Target: for each endpoint, median at --large / median at --small <= 1.5.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.common import Server, asyncpg_url, fresh_database, libpq_url, running_server
from perfapi.points import partitions
from perfapi.points.months import month_of
from perfapi.points.records import PointRow, dimensions_key

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 86_400
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2025, 12, 31)
# A full past year and a fixed as_of: the figures do not depend on today's date.
AS_OF = "2025-12-31"

KPI_COUNT = 500
AGGREGATIONS = ("sum", "avg", "last", "count")
REGIONS = ("emea", "amer", "apac", "anz")
ROOTS, CHILDREN, GRANDCHILDREN = 10, 9, 10
OBJECTIVE_COUNT = ROOTS + ROOTS * CHILDREN + ROOTS * CHILDREN * GRANDCHILDREN
TREE_SIZE = 1 + CHILDREN + CHILDREN * GRANDCHILDREN  # one root and everything under it
KEY_RESULTS_PER_OBJECTIVE = 4
QUARTER_ENDS = (date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31))
CHECK_IN_TIMES = ("2025-03-15T12:00:00Z", "2025-09-15T12:00:00Z")

# The series is read for this KPI; it gets at least SERIES_MIN_POINTS points per
# load, so every day of the year has points even at 100,000 points in total.
SERIES_KPI = 0
SERIES_MIN_POINTS = 4 * 365
# Phase 1 points fall on whole seconds, phase 2 points half a second later:
# no key (kpi, ts, dimensions) of the second load can collide with the first.
PHASE_OFFSETS = (timedelta(0), timedelta(milliseconds=500))
POINT_COLUMNS = ("org_id", "kpi_id", "ts", "dims_hash", "value", "dimensions")
CHUNK_POINTS = 200_000
IN_FLIGHT = 8
REFRESH_POLL_SECONDS = 0.5
REFRESH_TIMEOUT_SECONDS = 3_600.0


def aggregation_of(kpi: int) -> str:
    return AGGREGATIONS[kpi % len(AGGREGATIONS)]


def lower_is_better(kpi: int) -> bool:
    return kpi % 25 == 7


def dimension_keys(kpi: int) -> list[tuple[int, str]]:
    """2 to 4 dimension sets per KPI, as (dims_hash, canonical JSON)."""
    return [dimensions_key({"region": region}) for region in REGIONS[: 2 + kpi % 3]]


@dataclass(frozen=True)
class Strategy:
    org_id: UUID
    kpi_ids: list[UUID]  # by KPI number
    root_id: UUID
    requests: int
    seconds: float


class Api:
    """Requests to the server, at most IN_FLIGHT at a time; any non-2xx reply raises."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        self.sent = 0

    async def send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.slots:
            response = await self.client.request(method, path, json=body)
        self.sent += 1
        if not response.is_success:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        reply: dict[str, Any] = response.json()
        return reply


def kpi_body(kpi: int) -> dict[str, Any]:
    return {
        "key": f"bench.kpi_{kpi:03d}",
        "name": f"Bench KPI {kpi}",
        "aggregation": aggregation_of(kpi),
        "direction": "lower_is_better" if lower_is_better(kpi) else "higher_is_better",
        "tags": ["bench"],
    }


def target_value(kpi: int) -> float:
    return {"sum": 1_000_000.0, "count": 20_000.0}.get(aggregation_of(kpi), 50.0)


def linked_key_result(kpi: int, kpi_id: UUID) -> dict[str, Any]:
    """A key result reading the KPI, with a rule that suits its aggregation."""
    threshold = {"sum": 5_000.0, "count": 100.0}.get(aggregation_of(kpi), 50.0)
    body: dict[str, Any] = {"title": f"KPI {kpi}", "kpi_id": str(kpi_id)}
    if lower_is_better(kpi):
        return body | {"direction": "at_most", "target_value": threshold}
    if aggregation_of(kpi) in ("sum", "count"):
        return body | {"direction": "increase", "start_value": 0, "target_value": threshold}
    return body | {"direction": "at_least", "target_value": threshold}


async def create_kpis_with_targets(api: Api) -> list[UUID]:
    """KPI_COUNT KPIs, each with a 2025 target; their ids by KPI number."""
    replies = await asyncio.gather(
        *(api.send("POST", "/v1/kpis", kpi_body(kpi)) for kpi in range(KPI_COUNT))
    )
    kpi_ids = [UUID(reply["id"]) for reply in replies]
    period = {"period_start": FIRST_DAY.isoformat(), "period_end": LAST_DAY.isoformat()}
    await asyncio.gather(
        *(
            api.send("POST", f"/v1/kpis/{kpi_id}/targets", period | {"value": target_value(k)})
            for k, kpi_id in enumerate(kpi_ids)
        )
    )
    return kpi_ids


async def create_objectives(api: Api) -> list[UUID]:
    """Level by level (a child needs its parent's id); in creation order."""

    def body(title: str, due: date, parent: UUID | None, team: str) -> dict[str, Any]:
        return {
            "title": title,
            "parent_id": str(parent) if parent else None,
            "team": team,
            "start_date": FIRST_DAY.isoformat(),
            "due_date": due.isoformat(),
        }

    async def create(bodies: list[dict[str, Any]]) -> list[UUID]:
        replies = await asyncio.gather(*(api.send("POST", "/v1/objectives", b) for b in bodies))
        return [UUID(reply["id"]) for reply in replies]

    roots = await create([body(f"Root {r}", LAST_DAY, None, f"team-{r}") for r in range(ROOTS)])
    # Due dates spread over the year, so the goal-achievement window holds a mix.
    children = await create(
        [
            body(f"Child {r}.{c}", QUARTER_ENDS[1 + c % 3], roots[r], f"team-{r}")
            for r in range(ROOTS)
            for c in range(CHILDREN)
        ]
    )
    grandchildren = await create(
        [
            body(f"Leaf {i}.{g}", QUARTER_ENDS[g % 4], parent, f"team-{i // CHILDREN}")
            for i, parent in enumerate(children)
            for g in range(GRANDCHILDREN)
        ]
    )
    return roots + children + grandchildren


async def create_key_results(api: Api, objectives: list[UUID], kpi_ids: list[UUID]) -> int:
    """Four per objective: two read KPIs (each KPI by four), two take two check-ins each."""
    linked = [
        (objective_id, linked_key_result(kpi, kpi_ids[kpi]))
        for number, objective_id in enumerate(objectives)
        for kpi in ((2 * number) % KPI_COUNT, (2 * number + 1) % KPI_COUNT)
    ]
    manual = [
        (
            objective_id,
            {"title": "Shipped", "direction": "increase", "start_value": 0, "target_value": 10},
            (3 + number % 5, 5 + number % 6),
        )
        for number, objective_id in enumerate(objectives)
    ] + [
        (objective_id, {"title": "Signed", "direction": "at_least", "target_value": 5}, values)
        for number, objective_id in enumerate(objectives)
        for values in [(number % 4, number % 8)]
    ]

    async def with_check_ins(
        objective_id: UUID, body: dict[str, Any], values: tuple[int, int]
    ) -> None:
        reply = await api.send("POST", f"/v1/objectives/{objective_id}/key-results", body)
        for value, at in zip(values, CHECK_IN_TIMES, strict=True):
            await api.send(
                "POST", f"/v1/key-results/{reply['id']}/check-ins", {"value": value, "at": at}
            )

    await asyncio.gather(
        *(api.send("POST", f"/v1/objectives/{o}/key-results", body) for o, body in linked),
        *(with_check_ins(o, body, values) for o, body, values in manual),
    )
    return len(linked) + len(manual)


async def create_strategy(server: Server, database_url: str) -> Strategy:
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers=server.headers,
        timeout=120,
        limits=httpx.Limits(max_connections=IN_FLIGHT),
        trust_env=False,  # no proxy from the environment: 127.0.0.1 only
    ) as client:
        api = Api(client)
        kpi_ids = await create_kpis_with_targets(api)
        objectives = await create_objectives(api)
        assert len(objectives) == OBJECTIVE_COUNT
        key_results = await create_key_results(api, objectives, kpi_ids)
        assert key_results == KEY_RESULTS_PER_OBJECTIVE * OBJECTIVE_COUNT
        # A few direct links: every root and its first child, to a KPI it does not read.
        linked = [objectives[r] for r in range(ROOTS)] + [
            objectives[ROOTS + r * CHILDREN] for r in range(ROOTS)
        ]
        await asyncio.gather(
            *(
                api.send("PUT", f"/v1/objectives/{o}/kpis/{kpi_ids[(97 * n) % KPI_COUNT]}", {})
                for n, o in enumerate(linked)
            )
        )
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        org_id = await connection.fetchval("SELECT org_id FROM kpis WHERE id = $1", kpi_ids[0])
    finally:
        await connection.close()
    return Strategy(org_id, kpi_ids, objectives[0], api.sent, time.perf_counter() - started)


def points_per_kpi(total: int) -> list[int]:
    """An even share per KPI, except that the series KPI gets at least SERIES_MIN_POINTS."""
    series = max(total // KPI_COUNT, SERIES_MIN_POINTS)
    share, extra = divmod(total - series, KPI_COUNT - 1)
    if share < 1:
        raise SystemExit(f"{total:,} points are too few for {KPI_COUNT} KPIs")
    others = iter([share + 1] * extra + [share] * (KPI_COUNT - 1 - extra))
    return [series if kpi == SERIES_KPI else next(others) for kpi in range(KPI_COUNT)]


@dataclass
class Chunk:
    rows: list[PointRow]
    kpi_ids: list[UUID]
    first_ts: datetime
    last_ts: datetime


def point_chunks(
    org_id: UUID, kpi_ids: list[UUID], counts: list[int], offset: timedelta
) -> Iterator[Chunk]:
    """count[k] points of KPI k evenly over 2025, whole KPIs per chunk of about CHUNK_POINTS.

    KPIs in id order and each KPI's points in time order: the rows arrive in
    primary-key order, so COPY appends to the index instead of splitting pages at random.
    """
    rows: list[PointRow] = []
    chunk_kpis: list[UUID] = []
    for kpi in sorted(range(KPI_COUNT), key=lambda number: kpi_ids[number]):
        count, kpi_id, dimensions = counts[kpi], kpi_ids[kpi], dimension_keys(kpi)
        if count == 0:
            continue
        start = YEAR_START + offset
        for j in range(count):
            dims_hash, dims_json = dimensions[j % len(dimensions)]
            ts = start + timedelta(seconds=j * YEAR_SECONDS // count)
            rows.append(
                (org_id, kpi_id, ts, dims_hash, float((j * 37 + kpi * 11) % 100), dims_json)
            )
        chunk_kpis.append(kpi_id)
        if len(rows) >= CHUNK_POINTS:
            yield Chunk(rows, chunk_kpis, start, max(row[2] for row in rows))
            rows, chunk_kpis = [], []
    if rows:
        yield Chunk(rows, chunk_kpis, YEAR_START + offset, max(row[2] for row in rows))


async def make_partitions(database_url: str) -> None:
    """The monthly partitions of the year's points, made as ingestion would make them
    (these points are COPYed straight into `points`, past the API)."""
    engine = create_async_engine(asyncpg_url(database_url))
    try:
        async with AsyncSession(engine) as session, session.begin():
            first = month_of(YEAR_START)
            await partitions.ensure(session, range(first, first + 12))
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Load:
    points: int
    load_seconds: float
    refresh_seconds: float


async def load_points(
    database_url: str, strategy: Strategy, counts: list[int], offset: timedelta, analyze: bool
) -> Load:
    """COPY the points, log their days as ingestion does, and wait for the server's refresher."""
    await make_partitions(database_url)
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        started = time.perf_counter()
        changes: list[tuple[list[UUID], date, date]] = []
        for chunk in point_chunks(strategy.org_id, strategy.kpi_ids, counts, offset):
            await connection.copy_records_to_table(
                "points", records=chunk.rows, columns=POINT_COLUMNS
            )
            # What one ingestion request writes: its KPIs, and its first to last UTC day.
            changes.append((chunk.kpi_ids, chunk.first_ts.date(), chunk.last_ts.date()))
        load_seconds = time.perf_counter() - started

        started = time.perf_counter()
        await connection.executemany(
            "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
            "SELECT $1, kpi_id, $3, $4 FROM unnest($2::uuid[]) AS changed(kpi_id)",
            [(strategy.org_id, ids, first, last) for ids, first, last in changes],
        )
        deadline = started + REFRESH_TIMEOUT_SECONDS
        while await connection.fetchval("SELECT count(*) FROM rollup_changes"):
            if time.perf_counter() > deadline:
                raise RuntimeError("the server's refresher did not empty rollup_changes in time")
            await asyncio.sleep(REFRESH_POLL_SECONDS)
        refresh_seconds = time.perf_counter() - started
        if analyze:
            # This machine's PostgreSQL runs with autovacuum off; a deployment's
            # autovacuum would analyze after such a load. Without statistics the
            # planner falls back to default selectivities (see --no-analyze).
            await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return Load(sum(counts), load_seconds, refresh_seconds)


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    check: Callable[[dict[str, Any]], None]


def count_tree(node: dict[str, Any]) -> tuple[int, int]:
    """(objectives, key results) in a progress tree."""
    objectives, key_results = 1, len(node["key_results"])
    for child in node["children"]:
        more_objectives, more_key_results = count_tree(child)
        objectives += more_objectives
        key_results += more_key_results
    return objectives, key_results


def endpoints(strategy: Strategy, series_points: int) -> list[Endpoint]:
    def goal_achievement(body: dict[str, Any]) -> None:
        assert body["objectives_total"] == OBJECTIVE_COUNT, body["objectives_total"]
        assert body["measured"] == OBJECTIVE_COUNT, body["measured"]
        assert len(body["objectives"]) == OBJECTIVE_COUNT

    def alignment(body: dict[str, Any]) -> None:
        assert body["objectives_total"] == OBJECTIVE_COUNT, body["objectives_total"]
        assert body["aligned"] == OBJECTIVE_COUNT, body["aligned"]
        assert body["kpis_total"] == body["kpis_linked"] == KPI_COUNT, body["kpis_linked"]

    def progress(body: dict[str, Any]) -> None:
        found = count_tree(body["objective"])
        assert found == (TREE_SIZE, KEY_RESULTS_PER_OBJECTIVE * TREE_SIZE), found
        assert body["objective"]["progress"] is not None

    def series(body: dict[str, Any]) -> None:
        buckets = body["buckets"]
        assert len(buckets) == 365, len(buckets)
        assert all(bucket["count"] > 0 for bucket in buckets), "a day without points"
        assert sum(bucket["count"] for bucket in buckets) == series_points

    series_kpi = strategy.kpi_ids[SERIES_KPI]
    return [
        Endpoint(
            "goal achievement",
            f"/v1/reports/goal-achievement?from={FIRST_DAY}&to={LAST_DAY}&as_of={AS_OF}",
            goal_achievement,
        ),
        Endpoint("alignment", "/v1/reports/alignment", alignment),
        Endpoint(
            "progress tree",
            f"/v1/objectives/{strategy.root_id}/progress?as_of={AS_OF}",
            progress,
        ),
        Endpoint(
            "series, 1 year by day",
            f"/v1/kpis/{series_kpi}/series?from=2025-01-01&to=2026-01-01&interval=day",
            series,
        ),
    ]


def measure(server: Server, targets: list[Endpoint], repeats: int) -> dict[str, float]:
    """Median wall time in seconds per endpoint: one warm-up call, then `repeats` in a row."""
    medians: dict[str, float] = {}
    with httpx.Client(
        base_url=server.base_url, headers=server.headers, timeout=600, trust_env=False
    ) as client:
        for endpoint in targets:
            seconds = []
            for attempt in range(repeats + 1):
                started = time.perf_counter()
                response = client.get(endpoint.path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(
                        f"GET {endpoint.path}: {response.status_code} {response.text[:500]}"
                    )
                endpoint.check(response.json())
                if attempt:  # the first call warms caches and connections
                    seconds.append(elapsed)
            medians[endpoint.name] = statistics.median(seconds)
            print(
                f"  {endpoint.name}: median {medians[endpoint.name] * 1000:.1f} ms"
                f" (min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f})",
                flush=True,
            )
    return medians


def check_alive(server: Server) -> None:
    """Fail with the server's exit code rather than a later 'connection refused'."""
    if (code := server.process.poll()) is not None:
        raise RuntimeError(f"perfapi serve (pid {server.pid}) exited with code {code}")


def run(small: int, large: int, repeats: int, analyze: bool) -> None:
    began = time.perf_counter()
    phases = (points_per_kpi(small), points_per_kpi(large))
    if any(after < before for before, after in zip(*phases, strict=True)):
        raise SystemExit("--large must hold at least as many points per KPI as --small")
    medians: list[dict[str, float]] = []
    with fresh_database() as database_url, running_server(database_url) as server:
        check_alive(server)
        strategy = asyncio.run(create_strategy(server, database_url))
        print(
            f"strategy: {KPI_COUNT} KPIs with targets, {OBJECTIVE_COUNT:,} objectives,"
            f" {KEY_RESULTS_PER_OBJECTIVE * OBJECTIVE_COUNT:,} key results;"
            f" {strategy.requests:,} requests in {strategy.seconds:.1f} s",
            flush=True,
        )
        loaded = [0] * KPI_COUNT
        for offset, counts in zip(PHASE_OFFSETS, phases, strict=True):
            added = [total - before for total, before in zip(counts, loaded, strict=True)]
            load = asyncio.run(load_points(database_url, strategy, added, offset, analyze))
            loaded = counts
            print(
                f"{sum(counts):,} points: COPY of {load.points:,} in {load.load_seconds:.1f} s"
                f" ({load.points / load.load_seconds:,.0f} points/s), rollups refreshed"
                f" {load.refresh_seconds:.1f} s later",
                flush=True,
            )
            check_alive(server)
            medians.append(measure(server, endpoints(strategy, counts[SERIES_KPI]), repeats))
    total_seconds = time.perf_counter() - began

    at_small, at_large = medians
    print()
    print(f"medians of {repeats} calls each, as of {AS_OF}; total run {total_seconds / 60:.1f} min")
    small_label, large_label = f"{small:,} points", f"{large:,} points"
    width = max(len(small_label), len(large_label), 12)
    print(f"{'endpoint':<24}{small_label:>{width}}  {large_label:>{width}}  ratio")
    for name in at_small:
        ratio = at_large[name] / at_small[name]
        print(
            f"{name:<24}{at_small[name] * 1000:>{width - 3}.1f} ms  "
            f"{at_large[name] * 1000:>{width - 3}.1f} ms  {ratio:.2f}  (target <= 1.5)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", type=int, default=100_000, help="points in the first load")
    parser.add_argument("--large", type=int, default=10_000_000, help="points in total after")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per endpoint")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="do not ANALYZE after each load (what a server with autovacuum off would see)",
    )
    arguments = parser.parse_args()
    if arguments.large < arguments.small or arguments.repeats < 1:
        parser.error("need --large >= --small and --repeats >= 1")
    run(arguments.small, arguments.large, arguments.repeats, arguments.analyze)


if __name__ == "__main__":
    main()
