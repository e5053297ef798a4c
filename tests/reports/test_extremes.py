"""No accepted data can make a read fail: an org whose KPIs hold many points at
+1e15 and -1e15 on one day, targets and key results at the bounds and at the
smallest magnitudes, answers every list, report, series and export with 200 and
finite numbers, before and after the rollups are refreshed."""

import math
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.rollups.service import refresh
from tests.support import Tenant, created

BIG = 1e15
TINY = 5e-324  # the smallest positive double: dividing by it overflows
DAY = "2026-03-03"
AGGREGATIONS = ("sum", "avg", "min", "max", "last", "count")


async def test_every_read_of_an_org_with_extreme_values_answers(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kpis = await _extreme_org(client, tenant)
    urls = _read_urls(
        kpis, await _objective_ids(client, tenant), await _key_result_ids(client, tenant)
    )

    await _read_all(client, tenant, urls)
    async with sessionmaker() as session, session.begin():
        result = await refresh(session)
    assert result.claimed > 0
    assert result.failures == ()
    await _read_all(client, tenant, urls)


async def _extreme_org(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    kpis = {}
    for aggregation in AGGREGATIONS:
        for direction in ("higher_is_better", "lower_is_better"):
            key = f"{aggregation}.{direction}"
            kpis[key] = await created(
                client,
                tenant,
                "/v1/kpis",
                {"key": key, "name": key, "aggregation": aggregation, "direction": direction},
            )
    # Many points at both bounds on one day, and the smallest magnitudes beside them.
    points = [
        {
            "kpi": key,
            "ts": f"{DAY}T{hour:02d}:{minute:02d}:00Z",
            "value": value,
            "dimensions": {"slot": str(minute)},
        }
        for key in kpis
        for hour, value in ((1, BIG), (2, -BIG), (3, BIG), (4, TINY), (5, -TINY))
        for minute in range(40)
    ]
    response = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert response.status_code == 200, response.text
    for number, kpi_id in enumerate(kpis.values()):
        target = (BIG, -BIG, TINY, -TINY, 0.0)[number % 5]
        await created(
            client,
            tenant,
            f"/v1/kpis/{kpi_id}/targets",
            {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": target},
        )

    root = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Root", "start_date": "2026-01-01", "due_date": "2026-12-31", "weight": 1e6},
    )
    for number, kpi_id in enumerate(kpis.values()):
        child = await created(
            client,
            tenant,
            "/v1/objectives",
            {
                "title": f"Child {number}",
                "parent_id": root,
                "start_date": "2026-01-01",
                "due_date": "2026-06-30",
                "weight": (1e6, 1e-300)[number % 2],
            },
        )
        await client.put(f"/v1/objectives/{child}/kpis/{kpi_id}", headers=tenant.headers)
        for body in (
            {"direction": "increase", "start_value": 0, "target_value": TINY, "kpi_id": kpi_id},
            {"direction": "decrease", "start_value": BIG, "target_value": -BIG, "kpi_id": kpi_id},
            {"direction": "within", "range_min": -BIG, "range_max": BIG, "kpi_id": kpi_id},
            {"direction": "at_most", "target_value": -TINY, "kpi_id": kpi_id},
        ):
            await created(
                client,
                tenant,
                f"/v1/objectives/{child}/key-results",
                {"title": body["direction"], "weight": 1e6, **body},
            )
        checked = await created(
            client,
            tenant,
            f"/v1/objectives/{child}/key-results",
            {"title": "by hand", "direction": "increase", "start_value": -BIG, "target_value": BIG},
        )
        for value in (BIG, -BIG, TINY):
            await created(client, tenant, f"/v1/key-results/{checked}/check-ins", {"value": value})
    return kpis


def _read_urls(kpis: dict[str, str], objectives: list[str], key_results: list[str]) -> list[str]:
    urls = [
        "/v1/objectives",
        "/v1/objectives?as_of=2026-03-03T03:30:00Z",
        "/v1/kpis",
        "/v1/reports/goal-achievement?from=2026-01-01&to=2026-12-31",
        "/v1/reports/goal-achievement?from=2026-01-01&to=2026-12-31&threshold=0.5&as_of=2026-12-31",
        "/v1/reports/alignment",
        "/v1/objectives?format=csv",
        "/v1/objectives?format=ndjson",
        "/v1/reports/goal-achievement?from=2026-01-01&to=2026-12-31&format=csv",
    ]
    for objective in objectives:
        urls += [
            f"/v1/objectives/{objective}",
            f"/v1/objectives/{objective}/progress",
            f"/v1/objectives/{objective}/progress?as_of=2026-03-03",
            f"/v1/objectives/{objective}/progress/history?from=2026-01-01&to=2026-12-31&interval=month",
            f"/v1/objectives/{objective}/key-results",
        ]
    urls += [f"/v1/key-results/{kr}" for kr in key_results]
    urls += [f"/v1/key-results/{kr}/check-ins" for kr in key_results]
    for kpi_id in kpis.values():
        urls += [
            f"/v1/kpis/{kpi_id}/attainment?as_of=2026-03-03T12:00:00Z",
            f"/v1/kpis/{kpi_id}/attainment?as_of=2026-12-31",
            f"/v1/kpis/{kpi_id}/attainment?as_of=2026-01-01T00:00:01Z",
            f"/v1/kpis/{kpi_id}/points?limit=500",
            f"/v1/kpis/{kpi_id}/points?format=csv",
            f"/v1/kpis/{kpi_id}/series?from=2026-03-01&to=2026-03-05&interval=hour",
            f"/v1/kpis/{kpi_id}/series?from=2026-01-01&to=2027-01-01&interval=month",
            f"/v1/kpis/{kpi_id}/series?from=2026-01-01&to=2027-01-01&interval=year&format=csv",
        ]
        urls += [
            f"/v1/kpis/{kpi_id}/series?from=2026-03-03&to=2026-03-04&interval=day&agg={agg}"
            for agg in AGGREGATIONS
        ]
    return urls


async def _read_all(client: httpx.AsyncClient, tenant: Tenant, urls: list[str]) -> None:
    for url in urls:
        response = await client.get(url, headers=tenant.headers)
        assert response.status_code == 200, (url, response.text)
        if response.headers["content-type"].startswith("application/json"):
            _assert_finite(response.json(), url)


def _assert_finite(value: Any, where: str) -> None:
    if isinstance(value, float):
        assert math.isfinite(value), where
    elif isinstance(value, dict):
        for item in value.values():
            _assert_finite(item, where)
    elif isinstance(value, list):
        for item in value:
            _assert_finite(item, where)


async def _objective_ids(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    response = await client.get("/v1/objectives?limit=500", headers=tenant.headers)
    return [item["id"] for item in response.json()["items"]]


async def _key_result_ids(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    ids = []
    for objective in await _objective_ids(client, tenant):
        response = await client.get(
            f"/v1/objectives/{objective}/key-results", headers=tenant.headers
        )
        ids += [item["id"] for item in response.json()["items"]]
    return ids
