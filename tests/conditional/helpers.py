"""An org with one of everything a read can show, and the reads that carry tags."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import Tenant, created
from tests.webhooks.helpers import create_source

AS_OF = "2026-06-30"
REPORT = f"/v1/reports/goal-achievement?from=2026-01-01&to=2026-12-31&as_of={AS_OF}"


@dataclass(frozen=True)
class Org:
    kpi: str
    objective: str
    linked_key_result: str
    manual_key_result: str
    check_in: str
    target: str
    source: str
    api_key: str


async def build_org(client: httpx.AsyncClient, tenant: Tenant) -> Org:
    """A KPI with a target and points, an objective with a KPI key result, a checked-in
    key result and a KPI link, a webhook source; all dated in the first half of 2026."""
    kpi = await created(client, tenant, "/v1/kpis", {"key": "sales.arr", "name": "ARR"})
    target = await created(
        client,
        tenant,
        f"/v1/kpis/{kpi}/targets",
        {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": 100},
    )
    await ingest(client, tenant, "2026-01-15T09:00:00Z", 10)
    objective = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-06-30"},
    )
    linked = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "ARR", "direction": "at_least", "target_value": 50, "kpi_id": kpi},
    )
    manual = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Ship", "direction": "at_least", "target_value": 4},
    )
    check_in = await created(
        client,
        tenant,
        f"/v1/key-results/{manual}/check-ins",
        {"value": 2, "at": "2026-02-01T00:00:00Z"},
    )
    linked_kpi = await client.put(
        f"/v1/objectives/{objective}/kpis/{kpi}", headers=tenant.headers, json={}
    )
    assert linked_kpi.status_code in (200, 201), linked_kpi.text
    source = await create_source(client, tenant)
    keys = await client.get("/v1/api-keys", headers=tenant.headers)
    assert keys.status_code == 200, keys.text
    return Org(
        kpi=kpi,
        objective=objective,
        linked_key_result=linked,
        manual_key_result=manual,
        check_in=check_in,
        target=target,
        source=source["id"],
        api_key=keys.json()["items"][0]["id"],
    )


async def ingest(client: httpx.AsyncClient, tenant: Tenant, ts: str, value: float) -> None:
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "sales.arr", "ts": ts, "value": value}]},
    )
    assert sent.status_code in (200, 201), sent.text


def tagged_reads(org: Org) -> list[str]:
    """Every GET that carries a tag: each list, resource and report, with explicit as_of
    where the answer has one (the clock's part is tested on its own)."""
    return [
        f"/v1/objectives?as_of={AS_OF}",
        f"/v1/objectives/{org.objective}?as_of={AS_OF}",
        f"/v1/objectives/{org.objective}/progress?as_of={AS_OF}",
        f"/v1/objectives/{org.objective}/outlook?as_of={AS_OF}",
        f"/v1/objectives/{org.objective}/progress/history?from=2026-01-01&to=2026-03-01",
        f"/v1/objectives/{org.objective}/kpis",
        f"/v1/objectives/{org.objective}/key-results?as_of={AS_OF}",
        f"/v1/key-results/{org.linked_key_result}?as_of={AS_OF}",
        f"/v1/key-results/{org.manual_key_result}/check-ins",
        f"/v1/check-ins/{org.check_in}",
        "/v1/kpis",
        f"/v1/kpis/{org.kpi}",
        f"/v1/kpis/{org.kpi}/targets",
        f"/v1/kpi-targets/{org.target}",
        f"/v1/kpis/{org.kpi}/points",
        f"/v1/kpis/{org.kpi}/attainment?as_of={AS_OF}",
        f"/v1/kpis/{org.kpi}/series?from=2026-01-01&to=2026-02-01",
        f"/v1/kpis/{org.kpi}/forecast?as_of={AS_OF}&interval=month&method=naive",
        f"/v1/kpis/{org.kpi}/anomalies?from=2026-01-01&to=2026-06-01&as_of={AS_OF}",
        REPORT,
        "/v1/reports/alignment",
        "/v1/webhook-sources",
        f"/v1/webhook-sources/{org.source}",
        f"/v1/webhook-sources/{org.source}/deliveries",
        "/v1/api-keys",
        f"/v1/api-keys/{org.api_key}",
    ]


def tag_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    tag = response.headers.get("etag")
    assert tag, f"no ETag on {response.request.url}"
    return tag


async def get(
    client: httpx.AsyncClient, tenant: Tenant, url: str, tag: str | None = None, **headers: Any
) -> httpx.Response:
    sent = dict(tenant.headers) | headers
    if tag is not None:
        sent["If-None-Match"] = tag
    return await client.get(url, headers=sent)
