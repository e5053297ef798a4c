"""GET /v1/kpis/{id}/series: every bucket of [from, to), aligned in a time zone.

Data: ORDERS and VISITS of the dataset module (all values chosen so each bucket's sum
names the points in it).
"""

import csv
import io
import json
from typing import Any

import httpx

from tests.reports.dataset import get_json, seed_orders, seed_visits
from tests.support import Tenant

Bucket = tuple[str, float | None, int]

# 2026-01-05 12:00 -> 2026-01-08 06:00 UTC: the first and last day are partial.
EDGES = {"from": "2026-01-05T12:00:00Z", "to": "2026-01-08T06:00:00Z", "interval": "day"}
DAYS = [f"2026-01-0{day}T00:00:00Z" for day in (5, 6, 7, 8)]


async def series(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str, params: dict[str, str]
) -> dict[str, Any]:
    body: dict[str, Any] = await get_json(client, tenant, f"/v1/kpis/{kpi_id}/series", params)
    return body


def buckets(body: dict[str, Any]) -> list[Bucket]:
    return [(item["start"], item["value"], item["count"]) for item in body["buckets"]]


async def test_day_buckets_with_partial_edges(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_orders(client, tenant)
    body = await series(client, tenant, kpi, EDGES)
    assert (body["kpi_id"], body["interval"], body["tz"], body["aggregation"]) == (
        kpi,
        "day",
        "UTC",
        "sum",
    )
    assert buckets(body) == [
        # 01-05 from 12:00 only: 1 + 2 (the 100 at 06:00 is before from).
        (DAYS[0], 3.0, 2),
        (DAYS[1], None, 0),
        (DAYS[2], 12.0, 2),  # 4 at 00:00 + 8 at 23:59:59
        # 01-08 until 06:00 only: 16 at 05:59:59 (the 200 at 06:00 is to, excluded).
        (DAYS[3], 16.0, 1),
    ]


async def test_agg_override(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_orders(client, tenant)
    expected = {
        "sum": [3.0, None, 12.0, 16.0],
        "avg": [1.5, None, 6.0, 16.0],
        "min": [1.0, None, 4.0, 16.0],
        "max": [2.0, None, 8.0, 16.0],
        "last": [2.0, None, 8.0, 16.0],  # 01-05 20:00 (2), 01-07 23:59:59 (8)
        "count": [2.0, None, 2.0, 1.0],
    }
    for agg, values in expected.items():
        body = await series(client, tenant, kpi, {**EDGES, "agg": agg})
        assert body["aggregation"] == agg
        assert buckets(body) == [
            (start, value, count)
            for start, value, count in zip(DAYS, values, [2, 0, 2, 1], strict=True)
        ]


async def test_dimension_filter(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_orders(client, tenant)
    eu = await series(client, tenant, kpi, {**EDGES, "dim.region": "eu"})
    assert buckets(eu) == [
        (DAYS[0], 1.0, 1),
        (DAYS[1], None, 0),
        (DAYS[2], 4.0, 1),
        (DAYS[3], 16.0, 1),
    ]
    us = await series(client, tenant, kpi, {**EDGES, "dim.region": "us"})
    assert buckets(us) == [
        (DAYS[0], 2.0, 1),
        (DAYS[1], None, 0),
        (DAYS[2], 8.0, 1),
        (DAYS[3], None, 0),  # the 16 in 01-08's part is eu
    ]
    nobody = await series(client, tenant, kpi, {**EDGES, "dim.region": "apac"})
    assert buckets(nobody) == [(day, None, 0) for day in DAYS]


async def test_week_and_month_buckets(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_orders(client, tenant)
    body = await series(
        client, tenant, kpi, {"from": "2026-01-01", "to": "2026-01-31", "interval": "week"}
    )
    assert body["interval"] == "week"
    assert buckets(body) == [
        # ISO week from Monday 2025-12-29, counted from 01-01: 1000 (the 5000 on 12-31 is
        # before from).
        ("2025-12-29T00:00:00Z", 1000.0, 1),
        ("2026-01-05T00:00:00Z", 331.0, 7),  # 100 + 1 + 2 + 4 + 8 + 16 + 200
        ("2026-01-12T00:00:00Z", None, 0),
        ("2026-01-19T00:00:00Z", 50.0, 1),
        ("2026-01-26T00:00:00Z", None, 0),  # up to 01-31 00:00: the 7000 there is excluded
    ]
    body = await series(
        client, tenant, kpi, {"from": "2025-12-15", "to": "2026-03-01", "interval": "month"}
    )
    assert buckets(body) == [
        ("2025-12-01T00:00:00Z", 5000.0, 1),  # from 12-15: not the 9 on 12-01
        ("2026-01-01T00:00:00Z", 8381.0, 10),  # 1000 + 331 + 50 + 7000
        ("2026-02-01T00:00:00Z", None, 0),
    ]


async def test_daylight_saving_days_in_berlin(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_visits(client, tenant)
    spring = {"from": "2026-03-28", "to": "2026-03-31", "tz": "Europe/Berlin"}
    body = await series(client, tenant, kpi, spring)
    assert body["tz"] == "Europe/Berlin"
    assert buckets(body) == [
        ("2026-03-28T00:00:00+01:00", 1.0, 1),  # 22:59:59Z is 23:59:59 CET
        ("2026-03-29T00:00:00+01:00", 6.0, 2),  # 23 hours: 2 at 23:00Z and 4 at 21:59:59Z
        ("2026-03-30T00:00:00+02:00", 8.0, 1),  # starts 03-29T22:00Z
    ]
    # The same range in UTC groups the points differently.
    utc = await series(client, tenant, kpi, {"from": "2026-03-28", "to": "2026-03-31"})
    assert buckets(utc) == [
        ("2026-03-28T00:00:00Z", 3.0, 2),
        ("2026-03-29T00:00:00Z", 12.0, 2),
        ("2026-03-30T00:00:00Z", None, 0),
    ]
    fall = {"from": "2026-10-24", "to": "2026-10-27", "tz": "Europe/Berlin"}
    assert buckets(await series(client, tenant, kpi, fall)) == [
        ("2026-10-24T00:00:00+02:00", 1.0, 1),
        # 25 hours, 10-24T22:00Z to 10-25T23:00Z: 2 + 16 + 32 + 4.
        ("2026-10-25T00:00:00+02:00", 54.0, 4),
        ("2026-10-26T00:00:00+01:00", 8.0, 1),
    ]


async def test_hours_of_the_fall_back_night(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_visits(client, tenant)
    params = {
        "from": "2026-10-25T01:00:00+02:00",  # 2026-10-24T23:00Z
        "to": "2026-10-25T04:00:00+01:00",  # 2026-10-25T03:00Z
        "interval": "hour",
        "tz": "Europe/Berlin",
    }
    assert buckets(await series(client, tenant, kpi, params)) == [
        ("2026-10-25T01:00:00+02:00", None, 0),
        ("2026-10-25T02:00:00+02:00", 16.0, 1),  # 00:30Z
        ("2026-10-25T02:00:00+01:00", 32.0, 1),  # 01:30Z, the repeated hour
        ("2026-10-25T03:00:00+01:00", None, 0),
    ]
    # Spring forward: 02:00 CET does not exist; 01:00 CET is followed by 03:00 CEST.
    params = {
        "from": "2026-03-29T01:00:00+01:00",  # 2026-03-29T00:00Z
        "to": "2026-03-29T04:00:00+02:00",  # 2026-03-29T02:00Z
        "interval": "hour",
        "tz": "Europe/Berlin",
    }
    assert buckets(await series(client, tenant, kpi, params)) == [
        ("2026-03-29T01:00:00+01:00", None, 0),
        ("2026-03-29T03:00:00+02:00", None, 0),
    ]


async def test_csv_and_ndjson_exports(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await seed_visits(client, tenant)
    path = f"/v1/kpis/{kpi}/series"
    params = {"from": "2026-03-28", "to": "2026-03-31", "tz": "Europe/Berlin"}
    response = await client.get(path, headers=tenant.headers, params={**params, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["start", "value", "count"],
        ["2026-03-28T00:00:00+01:00", "1.0", "1"],
        ["2026-03-29T00:00:00+01:00", "6.0", "2"],
        ["2026-03-30T00:00:00+02:00", "8.0", "1"],
    ]
    orders = await seed_orders(client, tenant)
    response = await client.get(
        f"/v1/kpis/{orders}/series",
        headers={**tenant.headers, "Accept": "application/x-ndjson"},
        params=EDGES,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"start": DAYS[0], "value": 3.0, "count": 2},
        {"start": DAYS[1], "value": None, "count": 0},
        {"start": DAYS[2], "value": 12.0, "count": 2},
        {"start": DAYS[3], "value": 16.0, "count": 1},
    ]
