"""Reports against the cost of reading the rows they are computed from, at three org sizes.

    python -m bench.report_cost [--repeats 15] [--sizes 1000,2000,10000]

One fresh database and one real `perfapi serve` (uvicorn, one worker). Through the
API: 500 KPIs (sum, avg, last, count; a few lower_is_better) with a 2025 target
each, as bench.reads makes them. Then, straight into the tables with asyncpg COPY
(building 10,000 objectives through the API would take longer than the timing;
ids are made here, created_at one millisecond apart so every list has a stable
order): objectives in 10 trees, each a 10-ary tree filled level by level, grown
to each of --sizes in turn (so a root's subtree is a tenth of the org); start
2025-01-01, due dates spread over the 2025 quarter ends (roots at year end),
teams by tree, all active. Each objective has 4 key results: 2 reading KPIs (a
rule suiting the KPI's aggregation, as bench.reads's linked_key_result), 2 taken
from 2 check-ins each in 2025. Every root and every 10th objective is also
linked to a KPI. 150 points per KPI over 2025 are COPYed once, with the change
log rows ingestion writes; the server's refresher brings the rollups up to date.
The database is analyzed after each step.

Timed after each step, as of 2025-12-31, interleaved round-robin (so noise hits
all alike): one warm-up round, then --repeats rounds of
  floor          six SELECTs on one asyncpg connection fetching every row goal
                 achievement is computed from: the org's objectives, key results,
                 the latest check-in per key result at or before as_of, objective-KPI
                 links, KPIs, and per-KPI aggregates of the 2025 month rollups;
  goal achiev.   GET /v1/reports/goal-achievement over 2025 (every objective);
  alignment      GET /v1/reports/alignment;
  progress tree  GET /v1/objectives/{root}/progress (a root's subtree);
  objective list GET /v1/objectives?limit=500 (one page, with progress);
  goal achiev., 304  the same report with If-None-Match of its current ETag: the
                 cost of a dashboard's poll when nothing changed.
Each is timed from sending to holding the whole answer (the floor's rows decoded,
a reply's body read); parsing and checking the answers (counts of objectives, key
results and rows, so a broken report cannot look fast) comes after, untimed.
Printed: medians in ms, each endpoint's ratio to the floor at that size, and the
ratio of the largest to the smallest size. Target: goal achievement at 2,000
objectives <= 2.0x the floor.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx

from bench.common import Server, fresh_database, libpq_url, running_server
from bench.reads import (
    KPI_COUNT,
    POINT_COLUMNS,
    Api,
    count_tree,
    create_kpis_with_targets,
    linked_key_result,
    make_partitions,
    point_chunks,
)

AS_OF = "2025-12-31"
AS_OF_INSTANT = datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)  # what the API reads
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2025, 12, 31)
QUARTER_ENDS = (date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31))
CHECK_IN_TIMES = (
    datetime(2025, 3, 15, 12, tzinfo=UTC),
    datetime(2025, 9, 15, 12, tzinfo=UTC),
)
TREES, FAN_OUT = 10, 10
KEY_RESULTS_PER_OBJECTIVE = 4
POINTS_PER_KPI = 150
LIST_LIMIT = 500
TARGET_SIZE, TARGET_RATIO = 2_000, 2.0
# Rows created one millisecond apart, from here: distinct and in insertion order.
CREATED_FROM = datetime(2025, 1, 1, tzinfo=UTC)
REFRESH_POLL_SECONDS = 0.5
REFRESH_TIMEOUT_SECONDS = 600.0

OBJECTIVE_COLUMNS = (
    "org_id", "id", "title", "parent_id", "owner", "team", "start_date", "due_date",
    "weight", "status", "created_at", "updated_at",
)  # fmt: skip
KEY_RESULT_COLUMNS = (
    "org_id", "id", "objective_id", "title", "direction", "start_value", "target_value",
    "kpi_id", "weight", "created_at", "updated_at",
)  # fmt: skip
CHECK_IN_COLUMNS = ("org_id", "id", "key_result_id", "value", "at", "created_at", "updated_at")
LINK_COLUMNS = ("org_id", "objective_id", "kpi_id", "weight", "created_at", "updated_at")


def tree_of(number: int) -> int:
    return number % TREES


def parent_of(number: int) -> int | None:
    """Objective ``number``'s parent: within its tree, node j's parent is (j - 1) // FAN_OUT."""
    j = number // TREES
    return None if j == 0 else ((j - 1) // FAN_OUT) * TREES + tree_of(number)


def subtree_size(root: int, size: int) -> int:
    return sum(1 for number in range(size) if tree_of(number) == tree_of(root))


def created(sequence: int) -> datetime:
    return CREATED_FROM + timedelta(milliseconds=sequence)


@dataclass
class Org:
    org_id: UUID
    kpi_ids: list[UUID]
    objective_ids: list[UUID]  # by objective number
    rows_made: int = 0  # sequence of created_at, across tables

    def next_created(self) -> datetime:
        self.rows_made += 1
        return created(self.rows_made)


async def create_kpis(server: Server, database_url: str) -> Org:
    """The KPIs and their targets through the API, as bench.reads makes them."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.headers, timeout=120, trust_env=False
    ) as client:
        kpi_ids = await create_kpis_with_targets(Api(client))
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        org_id = await connection.fetchval("SELECT org_id FROM kpis WHERE id = $1", kpi_ids[0])
    finally:
        await connection.close()
    return Org(org_id, kpi_ids, [])


def linked_columns(kpi: int, kpi_id: UUID) -> tuple[str, float | None, float]:
    """(direction, start_value, target_value) of bench.reads's key result reading the KPI."""
    body = linked_key_result(kpi, kpi_id)
    return body["direction"], body.get("start_value"), body["target_value"]


async def grow(connection: asyncpg.Connection, org: Org, size: int) -> None:
    """Add objectives (with key results, check-ins and links) up to ``size``."""
    first = len(org.objective_ids)
    org.objective_ids += [uuid4() for _ in range(first, size)]
    ids = org.objective_ids
    objectives: list[tuple[Any, ...]] = []
    key_results: list[tuple[Any, ...]] = []
    check_ins: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    for number in range(first, size):
        parent = parent_of(number)
        is_root = parent is None
        due = LAST_DAY if is_root else QUARTER_ENDS[(number // TREES) % 4]
        at = org.next_created()
        objectives.append(
            (
                org.org_id, ids[number], f"Objective {number}",
                None if parent is None else ids[parent], f"owner-{number % 37}",
                f"team-{tree_of(number)}", FIRST_DAY, due, float(1 + number % 3), "active", at, at,
            )
        )  # fmt: skip
        for kpi in ((2 * number) % KPI_COUNT, (2 * number + 1) % KPI_COUNT):
            direction, start, target = linked_columns(kpi, org.kpi_ids[kpi])
            at = org.next_created()
            key_results.append(
                (
                    org.org_id, uuid4(), ids[number], f"KPI {kpi}", direction, start, target,
                    org.kpi_ids[kpi], 1.0, at, at,
                )
            )  # fmt: skip
        manual = (
            ("Shipped", "increase", 0.0, 10.0, (3 + number % 5, 5 + number % 6)),
            ("Signed", "at_least", None, 5.0, (number % 4, number % 8)),
        )
        for title, direction, start, target, values in manual:
            key_result_id, at = uuid4(), org.next_created()
            key_results.append(
                (
                    org.org_id, key_result_id, ids[number], title, direction, start, target,
                    None, 2.0, at, at,
                )
            )  # fmt: skip
            for value, check_in_at in zip(values, CHECK_IN_TIMES, strict=True):
                at = org.next_created()
                check_ins.append(
                    (org.org_id, uuid4(), key_result_id, float(value), check_in_at, at, at)
                )
        if is_root or number % 10 == 5:
            at = org.next_created()
            kpi = (97 * number) % KPI_COUNT
            links.append((org.org_id, ids[number], org.kpi_ids[kpi], 1.0, at, at))
    async with connection.transaction():
        for table, rows, columns in (
            ("objectives", objectives, OBJECTIVE_COLUMNS),
            ("key_results", key_results, KEY_RESULT_COLUMNS),
            ("check_ins", check_ins, CHECK_IN_COLUMNS),
            ("objective_kpis", links, LINK_COLUMNS),
        ):
            await connection.copy_records_to_table(table, records=rows, columns=columns)


async def load_points(connection: asyncpg.Connection, org: Org) -> int:
    """COPY the points, log their days as ingestion does, wait for the server's refresher."""
    counts = [POINTS_PER_KPI] * KPI_COUNT
    changes = []
    for chunk in point_chunks(org.org_id, org.kpi_ids, counts, timedelta(0)):
        await connection.copy_records_to_table("points", records=chunk.rows, columns=POINT_COLUMNS)
        changes.append((chunk.kpi_ids, chunk.first_ts.date(), chunk.last_ts.date()))
    await connection.executemany(
        "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
        "SELECT $1, kpi_id, $3, $4 FROM unnest($2::uuid[]) AS changed(kpi_id)",
        [(org.org_id, ids, first, last) for ids, first, last in changes],
    )
    deadline = time.perf_counter() + REFRESH_TIMEOUT_SECONDS
    while await connection.fetchval("SELECT count(*) FROM rollup_changes"):
        if time.perf_counter() > deadline:
            raise RuntimeError("the server's refresher did not empty rollup_changes in time")
        await asyncio.sleep(REFRESH_POLL_SECONDS)
    return sum(counts)


def floor_queries(org_id: UUID) -> list[tuple[str, tuple[Any, ...]]]:
    """The six SELECTs of the floor and their arguments."""
    return [
        (
            "SELECT id, parent_id, title, status, team, weight, start_date, due_date, created_at"
            " FROM objectives WHERE org_id = $1",
            (org_id,),
        ),
        (
            "SELECT id, objective_id, direction, start_value, target_value, range_min, range_max,"
            " kpi_id, weight, created_at FROM key_results WHERE org_id = $1",
            (org_id,),
        ),
        (
            "SELECT DISTINCT ON (key_result_id) key_result_id, value FROM check_ins"
            " WHERE org_id = $1 AND at <= $2 ORDER BY key_result_id, at DESC, created_at DESC",
            (org_id, AS_OF_INSTANT),
        ),
        ("SELECT objective_id, kpi_id FROM objective_kpis WHERE org_id = $1", (org_id,)),
        ("SELECT id, aggregation FROM kpis WHERE org_id = $1", (org_id,)),
        (
            "SELECT kpi_id, sum(count), sum(sum), min(min), max(max) FROM kpi_month_rollups"
            " WHERE org_id = $1 AND month BETWEEN $2 AND $3 GROUP BY kpi_id",
            (org_id, FIRST_DAY, date(2025, 12, 1)),
        ),
    ]


@dataclass(frozen=True)
class Timed:
    """A call timed from sending to having its whole answer; checked afterwards, untimed."""

    name: str
    fetch: Callable[[], Awaitable[Any]]
    check: Callable[[Any], None]


def timed_calls(
    connection: asyncpg.Connection, client: httpx.AsyncClient, org: Org, size: int
) -> list[Timed]:
    root = 0
    tree_objectives = subtree_size(root, size)
    manual_key_results = 2 * size

    async def floor() -> list[list[asyncpg.Record]]:
        return [
            await connection.fetch(query, *arguments)
            for query, arguments in floor_queries(org.org_id)
        ]

    def floor_rows(results: list[list[asyncpg.Record]]) -> None:
        counts = [len(rows) for rows in results]
        expected = [size, KEY_RESULTS_PER_OBJECTIVE * size, manual_key_results]
        assert counts[:3] == expected, counts
        assert counts[4:] == [KPI_COUNT, KPI_COUNT], counts

    def get(path: str) -> Callable[[], Awaitable[httpx.Response]]:
        async def fetch() -> httpx.Response:
            return await client.get(path)  # reads the whole body

        return fetch

    def body_of(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise RuntimeError(f"{response.url}: {response.status_code} {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    def goal_achievement(response: httpx.Response) -> None:
        body = body_of(response)
        assert body["objectives_total"] == body["measured"] == size, body["objectives_total"]
        assert len(body["objectives"]) == size
        assert 0 < body["achieved"] < size, body["achieved"]

    def alignment(response: httpx.Response) -> None:
        body = body_of(response)
        assert body["objectives_total"] == body["aligned"] == size, body["aligned"]
        assert body["kpis_total"] == body["kpis_linked"] == KPI_COUNT, body["kpis_linked"]

    def progress_tree(response: httpx.Response) -> None:
        body = body_of(response)
        found = count_tree(body["objective"])
        assert found == (tree_objectives, KEY_RESULTS_PER_OBJECTIVE * tree_objectives), found
        assert body["objective"]["progress"] is not None

    def objective_list(response: httpx.Response) -> None:
        items = body_of(response)["items"]
        assert len(items) == min(LIST_LIMIT, size), len(items)
        assert all(item["progress"] is not None for item in items)

    window = f"from={FIRST_DAY}&to={LAST_DAY}&as_of={AS_OF}"
    report = f"/v1/reports/goal-achievement?{window}"
    tags: dict[str, str] = {}

    async def unchanged() -> httpx.Response:
        """A dashboard's poll of an unchanged report: the tag of the first answer back."""
        if report not in tags:  # the warm-up round, untimed
            tags[report] = (await client.get(report)).headers["etag"]
        return await client.get(report, headers={"If-None-Match": tags[report]})

    def not_modified(response: httpx.Response) -> None:
        assert response.status_code == 304, response.status_code
        assert response.content == b""

    return [
        Timed("floor", floor, floor_rows),
        Timed("goal achievement", get(report), goal_achievement),
        Timed("goal achiev., 304", unchanged, not_modified),
        Timed("alignment", get("/v1/reports/alignment"), alignment),
        Timed(
            "progress tree",
            get(f"/v1/objectives/{org.objective_ids[root]}/progress?as_of={AS_OF}"),
            progress_tree,
        ),
        Timed(
            "objective list",
            get(f"/v1/objectives?limit={LIST_LIMIT}&as_of={AS_OF}"),
            objective_list,
        ),
    ]


async def measure(
    server: Server, database_url: str, org: Org, size: int, repeats: int
) -> dict[str, float]:
    """Median seconds per call: a warm-up round, then ``repeats`` rounds, round-robin."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=server.headers, timeout=600, trust_env=False
        ) as client:
            calls = timed_calls(connection, client, org, size)
            seconds: dict[str, list[float]] = {call.name: [] for call in calls}
            for round_number in range(repeats + 1):
                for call in calls:
                    started = time.perf_counter()
                    answer = await call.fetch()
                    elapsed = time.perf_counter() - started
                    call.check(answer)
                    if round_number:  # the first round warms caches and connections
                        seconds[call.name].append(elapsed)
    finally:
        await connection.close()
    return {name: statistics.median(values) for name, values in seconds.items()}


async def build_step(database_url: str, org: Org, size: int, with_points: bool) -> str:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        started = time.perf_counter()
        await grow(connection, org, size)
        grown = time.perf_counter() - started
        note = f"{size:,} objectives: inserted in {grown:.1f} s"
        if with_points:
            started = time.perf_counter()
            await make_partitions(database_url)
            points = await load_points(connection, org)
            note += (
                f"; {points:,} points, rollups refreshed in {time.perf_counter() - started:.1f} s"
            )
        # This machine's PostgreSQL runs with autovacuum off; a deployment's would analyze.
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return note


def print_table(sizes: list[int], medians: list[dict[str, float]], repeats: int) -> None:
    names = list(medians[0])
    floor = names[0]
    width = 20
    growth_label = f"{sizes[-1]:,} / {sizes[0]:,}"
    print()
    print(f"medians of {repeats} interleaved rounds, as of {AS_OF}: ms (ratio to the floor)")
    print(
        f"{'objectives':<{width}}"
        + "".join(f"{size:>21,}" for size in sizes)
        + (f"{growth_label:>16}" if len(sizes) > 1 else "")
    )
    for name in names:
        cells = ""
        for at in medians:
            times = f"({at[name] / at[floor]:.1f}x)" if name != floor else ""
            cells += f"{at[name] * 1000:>10.1f} ms {times:>7}"
        growth = f"{medians[-1][name] / medians[0][name]:>16.2f}" if len(sizes) > 1 else ""
        print(f"{name:<{width}}{cells}{growth}")
    print(
        f"{'progress tree size':<{width}}"
        + "".join(f"{subtree_size(0, size):>21,}" for size in sizes)
    )
    if TARGET_SIZE in sizes:
        at = medians[sizes.index(TARGET_SIZE)]
        ratio = at["goal achievement"] / at[floor]
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(
            f"target: goal achievement at {TARGET_SIZE:,} objectives <= {TARGET_RATIO:.1f}x floor:"
            f" {ratio:.2f}x, {verdict}"
        )


def run(sizes: list[int], repeats: int) -> None:
    began = time.perf_counter()
    medians: list[dict[str, float]] = []
    with fresh_database() as database_url, running_server(database_url) as server:
        org = asyncio.run(create_kpis(server, database_url))
        print(f"{KPI_COUNT} KPIs with 2025 targets through the API", flush=True)
        for step, size in enumerate(sizes):
            note = asyncio.run(build_step(database_url, org, size, with_points=step == 0))
            print(note, flush=True)
            if (code := server.process.poll()) is not None:
                raise RuntimeError(f"perfapi serve exited with code {code}")
            at = asyncio.run(measure(server, database_url, org, size, repeats))
            medians.append(at)
            print("  " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in at.items()), flush=True)
    print_table(sizes, medians, repeats)
    print(f"total run {(time.perf_counter() - began) / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds at each size")
    parser.add_argument(
        "--sizes", default="1000,2000,10000", help="objective counts, ascending, comma-separated"
    )
    arguments = parser.parse_args()
    sizes = [int(part) for part in arguments.sizes.split(",")]
    if arguments.repeats < 1 or sizes != sorted(set(sizes)) or sizes[0] < TREES:
        parser.error(f"need --repeats >= 1 and ascending, distinct --sizes of at least {TREES}")
    run(sizes, arguments.repeats)


if __name__ == "__main__":
    main()
