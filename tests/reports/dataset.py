"""A small fixed dataset for the computed-on-read tests, built through the API only.

Every number the tests expect is worked out by hand from the values below.

Strategy (objectives in creation order; Q1 = 2026-01-01..2026-03-31):

  R  Company 2026     root, 2026-01-01..2026-12-31, active, weight 1, team exec, no KRs
  A  Grow revenue     child of R, Q1, active, weight 3, team sales
       revenue  increase 0 -> 1000, reads KPI revenue (sum)
       deals    at_least 10; check-ins 2026-01-15 4, 2026-03-20 12
  B  Keep customers   child of R, Q1, active, weight 1, team cs
       churn    at_most 5, reads KPI churn (avg), weight 2
       cost     decrease 100 -> 60; check-ins 2026-01-20 90, 2026-03-01T09:00 80
       latency  within 100..200; check-ins 2026-02-10 250, 2026-03-10 150
  C  Abandoned        child of R, Q1, cancelled; KR at_least 1, check-in 2026-02-01 5
  D  Someday          child of R, Q1, draft; KR at_least 1 without check-ins
  E  Not measured     child of R, 2026-04-01..2026-06-30, active, weight 2, no KRs
  H  Support SLA      child of B, Q1, closed, team cs; KR within 0..4, check-in 2026-03-15 3
  S  Ops excellence   root, Q1, active, team ops, linked to KPI uptime;
       ops      increase 0 -> 10; check-ins 2026-03-01 5, 2026-05-15 15
  F  Last year        root, 2025-10-01..2025-12-31, closed, linked to KPI legacy;
       last     at_least 100; check-in 2025-12-15 150

KPIs (creation order): revenue (sum), churn (avg, lower_is_better), nps (avg),
uptime (avg), legacy (sum). Points and targets: see REVENUE, CHURN, NPS, TARGETS.

Separate series data: KPI orders (sum, dimension region) and KPI visits (sum,
around the 2026 daylight-saving changes of Europe/Berlin).
"""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import Tenant, created

Q1 = ("2026-01-01", "2026-03-31")
AS_OF = "2026-04-30T00:00:00Z"  # after everything in Q1, before S's second check-in

REVENUE = [
    ("2025-12-31T23:00:00Z", 50.0),  # before A starts: never counted
    ("2026-01-10T12:00:00Z", 200.0),
    ("2026-02-15T00:00:00Z", 300.0),
    ("2026-03-31T23:59:59Z", 400.0),  # last second of A's period: counted
    ("2026-04-01T00:00:00Z", 500.0),  # end of A's period (exclusive): not counted for A
]
CHURN = [  # days 15, 45 and 75 of Q1: on the line y = 6 - (day - 15) / 15
    ("2026-01-16T00:00:00Z", 6.0),
    ("2026-02-15T00:00:00Z", 4.0),
    ("2026-03-17T00:00:00Z", 2.0),
]
NPS = [
    ("2025-12-31T12:00:00Z", 0.0),  # before the January target period
    ("2026-01-01T00:00:00Z", 30.0),  # days 0, 10, 20 of January
    ("2026-01-11T00:00:00Z", 36.0),
    ("2026-01-21T00:00:00Z", 45.0),
    ("2026-01-31T00:00:00Z", 1000.0),  # end of the 01-01..01-30 period (exclusive)
]
TARGETS = {
    "revenue": [("2026-01-01", "2026-03-31", 1000.0), ("2026-04-01", "2026-06-30", 2000.0)],
    "churn": [("2026-01-01", "2026-03-31", 5.0)],
    "nps": [("2026-01-01", "2026-01-30", 50.0), ("2026-03-01", "2026-03-31", 50.0)],
}

ORDERS = [  # (ts, value, region)
    ("2025-12-01T00:00:00Z", 9.0, "us"),
    ("2025-12-31T00:00:00Z", 5000.0, "us"),
    ("2026-01-02T00:00:00Z", 1000.0, "us"),
    ("2026-01-05T06:00:00Z", 100.0, "eu"),
    ("2026-01-05T18:00:00Z", 1.0, "eu"),
    ("2026-01-05T20:00:00Z", 2.0, "us"),
    ("2026-01-07T00:00:00Z", 4.0, "eu"),
    ("2026-01-07T23:59:59Z", 8.0, "us"),
    ("2026-01-08T05:59:59Z", 16.0, "eu"),
    ("2026-01-08T06:00:00Z", 200.0, "eu"),
    ("2026-01-20T00:00:00Z", 50.0, "eu"),
    ("2026-01-31T00:00:00Z", 7000.0, "eu"),
]
ORDERS_TARGET = ("2026-01-01", "2026-01-31", 31000.0)

VISITS = [
    # Spring forward: Berlin's 2026-03-29 runs 2026-03-28T23:00Z..2026-03-29T22:00Z (23 h).
    ("2026-03-28T22:59:59Z", 1.0),  # 03-28 23:59:59 CET
    ("2026-03-28T23:00:00Z", 2.0),  # 03-29 00:00 CET
    ("2026-03-29T21:59:59Z", 4.0),  # 03-29 23:59:59 CEST
    ("2026-03-29T22:00:00Z", 8.0),  # 03-30 00:00 CEST
    # Fall back: Berlin's 2026-10-25 runs 2026-10-24T22:00Z..2026-10-25T23:00Z (25 h).
    ("2026-10-24T21:59:59Z", 1.0),  # 10-24 23:59:59 CEST
    ("2026-10-24T22:00:00Z", 2.0),  # 10-25 00:00 CEST
    ("2026-10-25T00:30:00Z", 16.0),  # 02:30 CEST, the first 02:30
    ("2026-10-25T01:30:00Z", 32.0),  # 02:30 CET, the repeated one
    ("2026-10-25T22:59:59Z", 4.0),  # 10-25 23:59:59 CET
    ("2026-10-25T23:00:00Z", 8.0),  # 10-26 00:00 CET
]


def near(expected: float) -> Any:
    """A tight pytest.approx: hand-computed values agree to about 1e-12."""
    return pytest.approx(expected, rel=1e-12, abs=1e-12)


async def get_json(
    client: httpx.AsyncClient, tenant: Tenant, path: str, params: dict[str, Any] | None = None
) -> Any:
    response = await client.get(path, headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@dataclass(frozen=True)
class Strategy:
    objectives: dict[str, str]  # letter -> id
    key_results: dict[str, str]  # name -> id
    kpis: dict[str, str]  # key -> id


async def create_kpi(
    client: httpx.AsyncClient,
    tenant: Tenant,
    key: str,
    aggregation: str = "sum",
    direction: str = "higher_is_better",
) -> str:
    body = {"key": key, "name": key.title(), "aggregation": aggregation, "direction": direction}
    return await created(client, tenant, "/v1/kpis", body)


async def add_target(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str, start: str, end: str, value: float
) -> str:
    body = {"period_start": start, "period_end": end, "value": value}
    return await created(client, tenant, f"/v1/kpis/{kpi_id}/targets", body)


async def create_objective(
    client: httpx.AsyncClient,
    tenant: Tenant,
    title: str,
    period: tuple[str, str] = Q1,
    **fields: Any,
) -> str:
    body = {"title": title, "start_date": period[0], "due_date": period[1], **fields}
    return await created(client, tenant, "/v1/objectives", body)


async def add_key_result(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, title: str, **fields: Any
) -> str:
    body = {"title": title, **fields}
    return await created(client, tenant, f"/v1/objectives/{objective_id}/key-results", body)


async def check_in(
    client: httpx.AsyncClient, tenant: Tenant, key_result_id: str, value: float, at: str
) -> None:
    body = {"value": value, "at": at}
    await created(client, tenant, f"/v1/key-results/{key_result_id}/check-ins", body)


async def link(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, kpi_id: str, weight: float = 1
) -> None:
    response = await client.put(
        f"/v1/objectives/{objective_id}/kpis/{kpi_id}",
        headers=tenant.headers,
        json={"weight": weight},
    )
    assert response.status_code == 201, response.text


def point(kpi: str, ts: str, value: float, **dimensions: str) -> dict[str, Any]:
    made: dict[str, Any] = {"kpi": kpi, "ts": ts, "value": value}
    if dimensions:
        made["dimensions"] = dimensions
    return made


async def send(
    client: httpx.AsyncClient, tenant: Tenant, points: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


async def seed_strategy(client: httpx.AsyncClient, tenant: Tenant) -> Strategy:
    kpis = {
        "revenue": await create_kpi(client, tenant, "revenue"),
        "churn": await create_kpi(client, tenant, "churn", "avg", "lower_is_better"),
        "nps": await create_kpi(client, tenant, "nps", "avg"),
        "uptime": await create_kpi(client, tenant, "uptime", "avg"),
        "legacy": await create_kpi(client, tenant, "legacy"),
    }
    for key, targets in TARGETS.items():
        for start, end, value in targets:
            await add_target(client, tenant, kpis[key], start, end, value)
    await send(
        client,
        tenant,
        [point("revenue", ts, value) for ts, value in REVENUE]
        + [point("churn", ts, value) for ts, value in CHURN]
        + [point("nps", ts, value) for ts, value in NPS],
    )

    o: dict[str, str] = {}
    krs: dict[str, str] = {}
    o["R"] = await create_objective(
        client, tenant, "Company 2026", ("2026-01-01", "2026-12-31"), team="exec"
    )
    o["A"] = await create_objective(
        client, tenant, "Grow revenue", parent_id=o["R"], weight=3, team="sales"
    )
    krs["revenue"] = await add_key_result(
        client,
        tenant,
        o["A"],
        "Revenue 1000",
        direction="increase",
        start_value=0,
        target_value=1000,
        kpi_id=kpis["revenue"],
    )
    krs["deals"] = await add_key_result(
        client, tenant, o["A"], "10 deals", direction="at_least", target_value=10
    )
    await check_in(client, tenant, krs["deals"], 4, "2026-01-15T00:00:00Z")
    await check_in(client, tenant, krs["deals"], 12, "2026-03-20T00:00:00Z")

    o["B"] = await create_objective(client, tenant, "Keep customers", parent_id=o["R"], team="cs")
    krs["churn"] = await add_key_result(
        client,
        tenant,
        o["B"],
        "Churn at most 5",
        direction="at_most",
        target_value=5,
        kpi_id=kpis["churn"],
        weight=2,
    )
    krs["cost"] = await add_key_result(
        client, tenant, o["B"], "Cost down", direction="decrease", start_value=100, target_value=60
    )
    await check_in(client, tenant, krs["cost"], 90, "2026-01-20T00:00:00Z")
    await check_in(client, tenant, krs["cost"], 80, "2026-03-01T09:00:00Z")
    krs["latency"] = await add_key_result(
        client, tenant, o["B"], "Latency", direction="within", range_min=100, range_max=200
    )
    await check_in(client, tenant, krs["latency"], 250, "2026-02-10T00:00:00Z")
    await check_in(client, tenant, krs["latency"], 150, "2026-03-10T00:00:00Z")

    o["C"] = await create_objective(
        client, tenant, "Abandoned", parent_id=o["R"], status="cancelled"
    )
    krs["abandoned"] = await add_key_result(
        client, tenant, o["C"], "Abandoned KR", direction="at_least", target_value=1
    )
    await check_in(client, tenant, krs["abandoned"], 5, "2026-02-01T00:00:00Z")
    o["D"] = await create_objective(client, tenant, "Someday", parent_id=o["R"], status="draft")
    krs["someday"] = await add_key_result(
        client, tenant, o["D"], "Someday KR", direction="at_least", target_value=1
    )
    o["E"] = await create_objective(
        client, tenant, "Not measured", ("2026-04-01", "2026-06-30"), parent_id=o["R"], weight=2
    )
    o["H"] = await create_objective(
        client, tenant, "Support SLA", parent_id=o["B"], status="closed", team="cs"
    )
    krs["sla"] = await add_key_result(
        client, tenant, o["H"], "SLA", direction="within", range_min=0, range_max=4
    )
    await check_in(client, tenant, krs["sla"], 3, "2026-03-15T00:00:00Z")

    o["S"] = await create_objective(client, tenant, "Ops excellence", team="ops")
    await link(client, tenant, o["S"], kpis["uptime"])
    krs["ops"] = await add_key_result(
        client, tenant, o["S"], "Ops", direction="increase", start_value=0, target_value=10
    )
    await check_in(client, tenant, krs["ops"], 5, "2026-03-01T00:00:00Z")
    await check_in(client, tenant, krs["ops"], 15, "2026-05-15T00:00:00Z")

    o["F"] = await create_objective(
        client, tenant, "Last year", ("2025-10-01", "2025-12-31"), status="closed"
    )
    await link(client, tenant, o["F"], kpis["legacy"])
    krs["last"] = await add_key_result(
        client, tenant, o["F"], "Last", direction="at_least", target_value=100
    )
    await check_in(client, tenant, krs["last"], 150, "2025-12-15T00:00:00Z")
    return Strategy(objectives=o, key_results=krs, kpis=kpis)


async def seed_orders(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """KPI orders (sum) with ORDERS and a January target of 31,000."""
    kpi_id = await create_kpi(client, tenant, "orders")
    await add_target(client, tenant, kpi_id, *ORDERS_TARGET)
    reply = await send(
        client, tenant, [point("orders", ts, value, region=r) for ts, value, r in ORDERS]
    )
    assert (reply["received"], reply["inserted"]) == (12, 12), reply
    return kpi_id


async def seed_visits(client: httpx.AsyncClient, tenant: Tenant) -> str:
    kpi_id = await create_kpi(client, tenant, "visits")
    await send(client, tenant, [point("visits", ts, value) for ts, value in VISITS])
    return kpi_id
