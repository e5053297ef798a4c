"""Writes and reads the replica tests repeat: a KPI with points, its series, the counters."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Tenant, created

KPI_KEY = "sales.arr"
SERIES_RANGE = "from=2026-01-01&to=2026-02-01&interval=month&tz=UTC"


async def make_kpi(client: httpx.AsyncClient, tenant: Tenant) -> str:
    return await created(client, tenant, "/v1/kpis", {"key": KPI_KEY, "name": "ARR"})


async def ingest(client: httpx.AsyncClient, tenant: Tenant, day: int, value: float) -> None:
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": KPI_KEY, "ts": f"2026-01-{day:02d}T09:00:00Z", "value": value}]},
    )
    assert sent.status_code in (200, 201), sent.text


def series_path(kpi: str) -> str:
    return f"/v1/kpis/{kpi}/series?{SERIES_RANGE}"


async def series_count(client: httpx.AsyncClient, tenant: Tenant, kpi: str) -> int:
    """How many points the KPI's January series counts (read where series are read)."""
    response = await client.get(series_path(kpi), headers=tenant.headers)
    assert response.status_code == 200, response.text
    (january,) = response.json()["buckets"]
    count: int = january["count"]
    return count


async def listed_points(client: httpx.AsyncClient, tenant: Tenant, kpi: str) -> int:
    """How many points the KPI's plain list shows (read from the primary)."""
    response = await client.get(f"/v1/kpis/{kpi}/points?limit=500", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def fallbacks(client: httpx.AsyncClient) -> dict[str, float]:
    """``perfapi_read_fallbacks_total`` by reason, as /metrics states it."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    counted = {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "perfapi_read_fallbacks"
        for sample in family.samples
        if sample.name == "perfapi_read_fallbacks_total"
    }
    assert set(counted) == {"lag", "down"}, response.text
    return counted
