"""The insights feed against the goal-achievement report, with its models cached and cold.

    python -m bench.insights [--points 100000] [--repeats 5]

One fresh database and one real `perfapi serve` (uvicorn, one worker), with
bench.reads's dataset: 500 KPIs (sum, avg, last, count; a few lower_is_better)
with a 2025 target each, 1,000 active objectives in a 3-level tree with 4 key
results each (2,000 reading KPIs, 2,000 checked in twice), a few objective-KPI
links, and --points points spread over 2025 (COPYed, change log written as
ingestion writes it, rollups refreshed by the server's own refresher, ANALYZEd).

Timed as of 2025-12-31, interleaved round-robin (so noise hits all alike): one
warm-up round, then --repeats rounds of
  goal achievement   GET /v1/reports/goal-achievement over 2025 (1,000 objectives);
  insights, warm     GET /v1/insights (the first page, as a UI shows it): every
                     KPI's daily model fitted and the org's snapshot kept;
  insights, 1 KPI new  the same right after one KPI's points version changed: its
                     model is fitted anew, and the org's snapshot (objective
                     outlooks, periods so far) computed anew from the kept models;
  insights, cold     the same right after every KPI's points version changed (a
                     change-log row per KPI, as a write of points leaves, on a day
                     with no points, and a new data version of the org; the
                     server's refresher clears the change log before the call), so
                     every model is fitted anew.
Each is timed from sending to holding the whole answer; the answers are checked
after, untimed (the feed lists insights of the expected kinds).
Printed: medians in ms and each feed's ratio to goal achievement in the same
run. Targets: warm <= 2x goal achievement, cold <= 20x.
"""

import argparse
import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx

from bench.common import Server, fresh_database, libpq_url, running_server
from bench.reads import (
    AS_OF,
    FIRST_DAY,
    LAST_DAY,
    PHASE_OFFSETS,
    REFRESH_POLL_SECONDS,
    REFRESH_TIMEOUT_SECONDS,
    Strategy,
    create_strategy,
    load_points,
    points_per_kpi,
)

WARM_TARGET = 2.0
COLD_TARGET = 20.0
# A day of the change log no point of the dataset falls on: reads of it cost nothing more.
EMPTY_DAY = date(2024, 6, 1)


@dataclass(frozen=True)
class Timed:
    name: str
    before: Callable[[], Awaitable[None]]  # untimed preparation
    path: str
    check: Callable[[dict[str, Any]], None]


async def nothing() -> None:
    return None


async def new_points_versions(database_url: str, strategy: Strategy, kpis: int) -> None:
    """Give the first ``kpis`` KPIs a new points version, as a write of their points
    would, and wait for the server's refresher to clear the change log again."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(
            "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
            "SELECT $1, kpi_id, $3, $3 FROM unnest($2::uuid[]) AS changed(kpi_id)",
            strategy.org_id,
            strategy.kpi_ids[:kpis],
            EMPTY_DAY,
        )
        # What a write of points also does: a new data version of the org.
        await connection.execute(
            "UPDATE kpis SET updated_at = updated_at WHERE org_id = $1 AND id = ANY($2::uuid[])",
            strategy.org_id,
            strategy.kpi_ids[:kpis],
        )
        deadline = time.perf_counter() + REFRESH_TIMEOUT_SECONDS
        while await connection.fetchval("SELECT count(*) FROM rollup_changes"):
            if time.perf_counter() > deadline:
                raise RuntimeError("the server's refresher did not empty rollup_changes in time")
            await asyncio.sleep(REFRESH_POLL_SECONDS)
    finally:
        await connection.close()


def checks(strategy: Strategy) -> tuple[Callable[[dict[str, Any]], None], ...]:
    def goal_achievement(body: dict[str, Any]) -> None:
        assert body["objectives_total"] == body["measured"] == 1_000, body["objectives_total"]

    def feed(body: dict[str, Any]) -> None:
        kinds = Counter(item["kind"] for item in body["items"])
        assert body["items"], "an empty feed"
        assert set(kinds) <= {
            "kpi_off_track",
            "kpi_at_risk",
            "kpi_anomaly",
            "objective_likely_missed",
            "check_in_stale",
        }, kinds

    return goal_achievement, feed


async def measure(
    server: Server, database_url: str, strategy: Strategy, repeats: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds per call, and the last feed (to count its kinds)."""
    goal_achievement, feed = checks(strategy)

    async def one_changed() -> None:
        await new_points_versions(database_url, strategy, 1)

    async def cold() -> None:
        await new_points_versions(database_url, strategy, len(strategy.kpi_ids))

    insights = f"/v1/insights?as_of={AS_OF}"  # the first page, as a UI shows it
    calls = [
        Timed(
            "goal achievement",
            nothing,
            f"/v1/reports/goal-achievement?from={FIRST_DAY}&to={LAST_DAY}&as_of={AS_OF}",
            goal_achievement,
        ),
        Timed("insights, warm", nothing, insights, feed),
        Timed("insights, 1 KPI new", one_changed, insights, feed),
        Timed("insights, cold", cold, insights, feed),
    ]
    seconds: dict[str, list[float]] = {call.name: [] for call in calls}
    last: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.headers, timeout=600, trust_env=False
    ) as client:
        for round_number in range(repeats + 1):
            for call in calls:
                await call.before()
                started = time.perf_counter()
                response = await client.get(call.path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{call.path}: {response.status_code} {response.text[:500]}")
                body = response.json()
                call.check(body)
                if call.name.startswith("insights"):
                    last = body
                if round_number:  # the first round warms connections and imports
                    seconds[call.name].append(elapsed)
            print(
                f"  round {round_number}: "
                + ", ".join(
                    f"{name} {values[-1] * 1000:.0f} ms"
                    for name, values in seconds.items()
                    if values and round_number
                ),
                flush=True,
            )
    return {name: statistics.median(values) for name, values in seconds.items()}, last


def run(points: int, repeats: int) -> None:
    began = time.perf_counter()
    with fresh_database() as database_url, running_server(database_url) as server:
        strategy = asyncio.run(create_strategy(server, database_url))
        load = asyncio.run(
            load_points(database_url, strategy, points_per_kpi(points), PHASE_OFFSETS[0], True)
        )
        print(
            f"strategy: 500 KPIs, 1,000 objectives, 4,000 key results; {load.points:,} points,"
            f" rollups refreshed in {load.refresh_seconds:.1f} s",
            flush=True,
        )
        medians, feed = asyncio.run(measure(server, database_url, strategy, repeats))
    kinds = Counter(item["kind"] for item in feed["items"])
    print()
    print(
        f"the feed's first page as of {AS_OF}: "
        + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    )
    print(f"medians of {repeats} interleaved rounds, as of {AS_OF}")
    base = medians["goal achievement"]
    for name, median in medians.items():
        ratio = "" if name == "goal achievement" else f"  {median / base:.1f}x goal achievement"
        print(f"{name:<20}{median * 1000:>10.1f} ms{ratio}")
    for name, target in (("insights, warm", WARM_TARGET), ("insights, cold", COLD_TARGET)):
        ratio = medians[name] / base
        verdict = "met" if ratio <= target else "NOT met"
        print(f"target: {name} <= {target:.0f}x goal achievement: {ratio:.2f}x, {verdict}")
    print(f"total run {(time.perf_counter() - began) / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000, help="points over 2025")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    arguments = parser.parse_args()
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    run(arguments.points, arguments.repeats)


if __name__ == "__main__":
    main()
