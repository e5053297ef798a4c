"""Rollups never change a number: reads are exact before and after a refresh.

Data: ORDERS of the dataset module (KPI orders, sum, dimension region), January
target 31,000. The background refresher is off in tests; refresh runs by hand.
"""

from datetime import date
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.rollups.service import refresh
from tests.reports.dataset import get_json, near, point, seed_orders, send
from tests.support import Tenant

Summary = tuple[int, float, float, float, float]  # count, sum, min, max, last value
DAY_ROWS: dict[tuple[date, str], Summary] = {
    (date(2025, 12, 1), "us"): (1, 9.0, 9.0, 9.0, 9.0),
    (date(2025, 12, 31), "us"): (1, 5000.0, 5000.0, 5000.0, 5000.0),
    (date(2026, 1, 2), "us"): (1, 1000.0, 1000.0, 1000.0, 1000.0),
    (date(2026, 1, 5), "eu"): (2, 101.0, 1.0, 100.0, 1.0),  # 100 at 06:00, 1 at 18:00
    (date(2026, 1, 5), "us"): (1, 2.0, 2.0, 2.0, 2.0),
    (date(2026, 1, 7), "eu"): (1, 4.0, 4.0, 4.0, 4.0),
    (date(2026, 1, 7), "us"): (1, 8.0, 8.0, 8.0, 8.0),
    (date(2026, 1, 8), "eu"): (2, 216.0, 16.0, 200.0, 200.0),  # 16 at 05:59:59, 200 at 06:00
    (date(2026, 1, 20), "eu"): (1, 50.0, 50.0, 50.0, 50.0),
    (date(2026, 1, 31), "eu"): (1, 7000.0, 7000.0, 7000.0, 7000.0),
}
MONTH_ROWS: dict[tuple[date, str], Summary] = {
    (date(2025, 12, 1), "us"): (2, 5009.0, 9.0, 5000.0, 5000.0),
    # 100 + 1 + 4 + 16 + 200 + 50 + 7000
    (date(2026, 1, 1), "eu"): (7, 7371.0, 1.0, 7000.0, 7000.0),
    (date(2026, 1, 1), "us"): (3, 1010.0, 2.0, 1000.0, 8.0),  # 1000 + 2 + 8
}
# After 4 -> 40 (01-07 eu), 50 -> 55 (01-20 eu) and deleting 2026-01-08:
CHANGED_DAY_ROWS = {key: row for key, row in DAY_ROWS.items() if key[0] != date(2026, 1, 8)} | {
    (date(2026, 1, 7), "eu"): (1, 40.0, 40.0, 40.0, 40.0),
    (date(2026, 1, 20), "eu"): (1, 55.0, 55.0, 55.0, 55.0),
}
CHANGED_MONTH_ROWS = MONTH_ROWS | {
    (date(2026, 1, 1), "eu"): (5, 7196.0, 1.0, 7000.0, 7000.0),  # 100 + 1 + 40 + 55 + 7000
}


async def rollup_rows(
    sessionmaker: async_sessionmaker[AsyncSession], table: str, period: str, kpi_id: str
) -> dict[tuple[date, str], Summary]:
    async with sessionmaker() as session:
        columns = f"{period}, dimensions->>'region', count, sum, min, max, last_value"
        statement = f"SELECT {columns} FROM {table} WHERE kpi_id = CAST(:kpi AS uuid)"  # noqa: S608
        rows = await session.execute(text(statement), {"kpi": kpi_id})
        return {(row[0], row[1]): (row[2], row[3], row[4], row[5], row[6]) for row in rows}


async def pending_changes(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count: int = await session.scalar(text("SELECT count(*) FROM rollup_changes")) or 0
        return count


async def run_refresh(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        result = await refresh(session)
    assert result.claimed > 0
    assert result.failures == ()
    assert await pending_changes(sessionmaker) == 0


async def numbers(client: httpx.AsyncClient, tenant: Tenant, kpi: str) -> dict[str, Any]:
    """Everything checked at each step: day, month and month-by-region series, attainment."""

    async def values(params: dict[str, str]) -> list[tuple[float | None, int]]:
        body = await get_json(client, tenant, f"/v1/kpis/{kpi}/series", params)
        return [(item["value"], item["count"]) for item in body["buckets"]]

    def attainment(body: dict[str, Any]) -> tuple[Any, ...]:
        return body["actual"], body["expected_to_date"], body["pace"], body["forecast"]

    path = f"/v1/kpis/{kpi}/attainment"
    return {
        "days": await values(
            {"from": "2026-01-05T12:00:00Z", "to": "2026-01-08T06:00:00Z", "interval": "day"}
        ),
        "months": await values({"from": "2025-12-15", "to": "2026-03-01", "interval": "month"}),
        # Berlin months start at 23:00Z: whole UTC days from rollups, an hour of raw points.
        "berlin_months": await values(
            {"from": "2025-12-01", "to": "2026-02-01", "interval": "month", "tz": "Europe/Berlin"}
        ),
        "eu_january": await values(
            {"from": "2026-01-01", "to": "2026-02-01", "interval": "month", "dim.region": "eu"}
        ),
        "attainment_jan_21": attainment(
            await get_json(client, tenant, path, {"as_of": "2026-01-21T00:00:00Z"})
        ),
        "attainment_january": attainment(
            await get_json(
                client,
                tenant,
                path,
                {"as_of": "2026-02-10", "period_start": "2026-01-01", "period_end": "2026-01-31"},
            )
        ),
    }


# As of 2026-01-21T00:00Z the January target expects 31000 * 20 / 31 = 20000.
ORIGINAL = {
    "days": [(3.0, 2), (None, 0), (12.0, 2), (16.0, 1)],
    "months": [(5000.0, 1), (8381.0, 10), (None, 0)],
    "berlin_months": [(5009.0, 2), (8381.0, 10)],  # 9 + 5000; all of January
    "eu_january": [(7371.0, 7)],
    # 1000 + 100 + 1 + 2 + 4 + 8 + 16 + 200 + 50 = 1381; forecast 1381 * 31 / 20.
    "attainment_jan_21": (1381.0, near(20000.0), near(1381 / 20000), near(1381 * 31 / 20)),
    "attainment_january": (8381.0, 31000.0, near(8381 / 31000), near(8381.0)),
}
CHANGED = {
    "days": [(3.0, 2), (None, 0), (48.0, 2), (None, 0)],  # 40 + 8; 01-08 deleted
    "months": [(5000.0, 1), (8206.0, 8), (None, 0)],  # 8381 - 4 + 40 - 50 + 55 - 216
    "berlin_months": [(5009.0, 2), (8206.0, 8)],
    "eu_january": [(7196.0, 5)],
    # 1000 + 100 + 1 + 2 + 40 + 8 + 55 = 1206
    "attainment_jan_21": (1206.0, near(20000.0), near(1206 / 20000), near(1206 * 31 / 20)),
    "attainment_january": (8206.0, 31000.0, near(8206 / 31000), near(8206.0)),
}


async def test_reads_are_exact_before_and_after_refresh(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kpi = await seed_orders(client, tenant)
    assert await pending_changes(sessionmaker) > 0
    assert await numbers(client, tenant, kpi) == ORIGINAL  # from raw points only

    await run_refresh(sessionmaker)
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == DAY_ROWS
    assert await rollup_rows(sessionmaker, "kpi_month_rollups", "month", kpi) == MONTH_ROWS
    assert await numbers(client, tenant, kpi) == ORIGINAL  # from rollups where clean

    reply = await send(
        client,
        tenant,
        [
            point("orders", "2026-01-07T00:00:00Z", 40.0, region="eu"),
            point("orders", "2026-01-20T00:00:00Z", 55.0, region="eu"),
        ],
    )
    assert (reply["received"], reply["inserted"], reply["updated"]) == (2, 0, 2)
    response = await client.delete(
        f"/v1/kpis/{kpi}/points",
        headers=tenant.headers,
        params={"from": "2026-01-08T00:00:00Z", "to": "2026-01-09T00:00:00Z"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 2}

    # The rollups are stale now, and the reads are right anyway.
    assert await pending_changes(sessionmaker) > 0
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == DAY_ROWS
    assert await numbers(client, tenant, kpi) == CHANGED

    await run_refresh(sessionmaker)
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == CHANGED_DAY_ROWS
    assert await rollup_rows(sessionmaker, "kpi_month_rollups", "month", kpi) == (
        CHANGED_MONTH_ROWS
    )
    assert await numbers(client, tenant, kpi) == CHANGED


async def test_rollups_match_the_raw_points(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """After a refresh the day rollups hold exactly what a GROUP BY over raw points gives."""
    kpi = await seed_orders(client, tenant)
    await send(client, tenant, [point("orders", "2026-01-05T23:00:00Z", 0.5, region="eu")])
    await run_refresh(sessionmaker)
    async with sessionmaker() as session:
        raw = await session.execute(
            text(
                "SELECT (ts AT TIME ZONE 'UTC')::date, dimensions->>'region', count(*), sum(value),"
                " min(value), max(value), (array_agg(value ORDER BY ts DESC))[1] FROM points"
                " WHERE kpi_id = CAST(:kpi AS uuid) GROUP BY 1, 2"
            ),
            {"kpi": kpi},
        )
        from_points = {(row[0], row[1]): tuple(row[2:]) for row in raw}
    expected = DAY_ROWS | {(date(2026, 1, 5), "eu"): (3, 101.5, 0.5, 100.0, 0.5)}
    assert from_points == expected
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == expected


async def test_clean_periods_come_from_rollups_and_changed_days_from_points(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Marking the stored summaries shows which part of a read comes from where."""
    kpi = await seed_orders(client, tenant)
    await run_refresh(sessionmaker)
    async with sessionmaker() as session, session.begin():
        for mark in (
            "UPDATE kpi_day_rollups SET sum = sum + 1000000 WHERE kpi_id = CAST(:kpi AS uuid)",
            "UPDATE kpi_month_rollups SET sum = sum + 1000000 WHERE kpi_id = CAST(:kpi AS uuid)",
        ):
            await session.execute(text(mark), {"kpi": kpi})
    eu_january = {"from": "2026-01-01", "to": "2026-02-01", "interval": "month", "dim.region": "eu"}
    path = f"/v1/kpis/{kpi}/series"
    body = await get_json(client, tenant, path, eu_january)
    assert [(b["value"], b["count"]) for b in body["buckets"]] == [(1007371.0, 7)]  # the month row
    # A change to 01-07 makes January's month row unusable: whole days come from the (marked)
    # day rollups, 01-07 from raw points. Marked eu days left: 01-05, 01-08, 01-20, 01-31.
    await send(client, tenant, [point("orders", "2026-01-07T00:00:00Z", 40.0, region="eu")])
    body = await get_json(client, tenant, path, eu_january)
    # 7371 - 4 + 40 = 7407, plus 4 marked days.
    assert [(b["value"], b["count"]) for b in body["buckets"]] == [(4007407.0, 7)]


async def test_a_change_spanning_centuries_refreshes_only_the_days_with_points(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """One request with points 900 years apart logs one change over every day between;
    the refresh recomputes the days that hold points, and reads inside that change read
    only their own window of it."""
    kpi = await seed_orders(client, tenant)
    await run_refresh(sessionmaker)
    reply = await send(
        client,
        tenant,
        [
            point("orders", "1950-03-01T10:00:00Z", 3.0, region="eu"),
            point("orders", "2850-03-01T10:00:00Z", 4.0, region="eu"),
        ],
    )
    assert reply["inserted"] == 2
    # Pending: January 2026 reads the same as before the far-away points arrived.
    assert await numbers(client, tenant, kpi) == ORIGINAL
    await run_refresh(sessionmaker)
    far = {(date(1950, 3, 1), "eu"): (1, 3.0, 3.0, 3.0, 3.0)} | {
        (date(2850, 3, 1), "eu"): (1, 4.0, 4.0, 4.0, 4.0)
    }
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == DAY_ROWS | far
    far_months = {(day.replace(day=1), region): row for (day, region), row in far.items()}
    assert await rollup_rows(sessionmaker, "kpi_month_rollups", "month", kpi) == (
        MONTH_ROWS | far_months
    )
    assert await numbers(client, tenant, kpi) == ORIGINAL
    body = await get_json(
        client,
        tenant,
        f"/v1/kpis/{kpi}/series",
        {"from": "1900-01-01", "to": "2900-01-01", "interval": "year", "dim.region": "eu"},
    )
    counted = {b["start"][:4]: (b["value"], b["count"]) for b in body["buckets"] if b["count"]}
    assert counted == {"1950": (3.0, 1), "2026": (7371.0, 7), "2850": (4.0, 1)}
