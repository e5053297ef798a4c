"""GET /v1/reports/alignment: how well the active objectives are covered by KPIs.

Active objectives in the dataset: R (root, weight 1) with children A (weight 3, KR on
revenue), B (weight 1, KR on churn) and E (weight 2, nothing), and S (root, weight 1,
linked to uptime). C (cancelled), D (draft), H (closed) and F (closed, linked to
legacy) are not counted. KPIs: revenue, churn, nps, uptime, legacy.
"""

import csv
import io
from typing import Any

import httpx

from tests.reports.dataset import Strategy, get_json, near
from tests.support import Tenant

REPORT = "/v1/reports/alignment"


async def report(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    body: dict[str, Any] = await get_json(client, tenant, REPORT)
    return body


async def patch_status(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, status: str
) -> None:
    response = await client.patch(
        f"/v1/objectives/{objective_id}", headers=tenant.headers, json={"status": status}
    )
    assert response.status_code == 200, response.text


async def test_alignment_report(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o, k = strategy.objectives, strategy.kpis
    body = await report(client, tenant)
    # Aligned: A and B (KR on a KPI), S (link), R (through A and B); not E.
    assert (body["objectives_total"], body["aligned"]) == (5, 4)
    assert body["coverage"] == near(4 / 5)
    # R = (3 * 1 + 1 * 1 + 2 * 0) / 6 = 2 / 3; S = 1; report = (2 / 3 + 1) / 2 = 5 / 6.
    assert body["alignment_score"] == near(5 / 6)
    # Linked: revenue and churn through key results, uptime through a link; legacy only
    # through the closed F.
    assert (body["kpis_total"], body["kpis_linked"]) == (5, 3)
    assert body["kpi_utilization"] == near(3 / 5)
    assert body["unaligned_objectives"] == [{"id": o["E"], "title": "Not measured", "team": None}]
    assert body["orphan_kpis"] == [
        {"id": k["nps"], "key": "nps", "name": "Nps"},
        {"id": k["legacy"], "key": "legacy", "name": "Legacy"},
    ]


async def test_only_active_objectives_count(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o, k = strategy.objectives, strategy.kpis
    await patch_status(client, tenant, o["E"], "cancelled")
    body = await report(client, tenant)
    # R's active children are A and B, both measured: R = 1; report (1 + 1) / 2.
    assert (body["objectives_total"], body["aligned"], body["coverage"]) == (4, 4, 1.0)
    assert body["alignment_score"] == near(1.0)
    assert body["unaligned_objectives"] == []
    await patch_status(client, tenant, o["F"], "active")
    body = await report(client, tenant)
    # F (a root, linked to legacy) now counts: 5 objectives, 3 roots scoring 1 each.
    assert (body["objectives_total"], body["aligned"], body["coverage"]) == (5, 5, 1.0)
    assert body["alignment_score"] == near(1.0)
    assert (body["kpis_total"], body["kpis_linked"]) == (5, 4)
    assert body["kpi_utilization"] == near(4 / 5)
    assert [kpi["id"] for kpi in body["orphan_kpis"]] == [k["nps"]]
    await patch_status(client, tenant, o["A"], "closed")
    await patch_status(client, tenant, o["B"], "draft")
    body = await report(client, tenant)
    # Active: R (now a leaf among the active: 0), S 1, F 1. Only R unaligned; score 2 / 3.
    assert (body["objectives_total"], body["aligned"]) == (3, 2)
    assert body["coverage"] == near(2 / 3)
    assert body["alignment_score"] == near(2 / 3)
    assert body["unaligned_objectives"] == [{"id": o["R"], "title": "Company 2026", "team": "exec"}]
    # revenue and churn are read only by key results of objectives no longer active.
    assert [kpi["id"] for kpi in body["orphan_kpis"]] == [k["revenue"], k["churn"], k["nps"]]


async def test_children_of_an_inactive_parent_become_roots(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    await patch_status(client, tenant, o["R"], "closed")
    body = await report(client, tenant)
    # Active: A (w 3, 1), B (w 1, 1), E (w 2, 0) and S (w 1, 1), all roots now.
    assert (body["objectives_total"], body["aligned"]) == (4, 3)
    assert body["coverage"] == near(3 / 4)
    assert body["alignment_score"] == near((3 + 1 + 0 + 1) / 7)
    assert [item["id"] for item in body["unaligned_objectives"]] == [o["E"]]


async def test_csv_rows(client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy) -> None:
    o, k = strategy.objectives, strategy.kpis
    response = await client.get(REPORT, headers=tenant.headers, params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == ["kind", "id", "name"]
    assert list(reader) == [
        {"kind": "unaligned_objective", "id": o["E"], "name": "Not measured"},
        {"kind": "orphan_kpi", "id": k["nps"], "name": "nps"},
        {"kind": "orphan_kpi", "id": k["legacy"], "name": "legacy"},
    ]
