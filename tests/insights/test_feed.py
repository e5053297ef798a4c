"""The insights feed: every kind, its sentence and evidence, filters, pages and exports."""

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from perfapi.domain.attention import InsightKind
from tests.forecasts.helpers import daily_kpi, day_after
from tests.reports.dataset import check_in, link
from tests.support import Tenant, assert_problem, created, walk_pages

AS_OF = day_after(40)  # 2026-02-14, the end of that day
Q1 = {"start_date": "2026-01-01", "due_date": "2026-03-31"}


@dataclass(frozen=True)
class Org:
    sales: str  # off track, with a spike on 2026-02-10
    leads: str  # at risk
    nps: str  # linked to Grow, no target
    orphan: str  # linked to nothing
    grow: str  # likely missed; team growth, owner ana
    sales_kr: str  # a key result of Grow reading sales, 0 to 12,000
    leads_kr: str  # a key result of Grow reading leads, at least 950
    shipped: str  # a key result of Grow last checked in 2026-01-30
    hire: str  # unaligned; team people, owner bo


async def points_per_day(
    client: httpx.AsyncClient, tenant: Tenant, key: str, first: date, days: int, value: float
) -> None:
    points = [
        {
            "kpi": key,
            "ts": datetime.combine(first + timedelta(days=d), time(12), UTC).isoformat(),
            "value": value,
        }
        for d in range(days)
    ]
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert sent.status_code in (200, 201), sent.text


async def target(client: httpx.AsyncClient, tenant: Tenant, kpi: str, value: float) -> None:
    body = {"period_start": "2026-01-01", "period_end": "2026-03-31", "value": value}
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", body)


async def an_org(client: httpx.AsyncClient, tenant: Tenant) -> Org:
    sales = await daily_kpi(client, tenant, 41, overrides={36: 1_000.0})
    await target(client, tenant, sales, 100_000)
    leads = await created(
        client, tenant, "/v1/kpis", {"key": "leads", "name": "Leads", "aggregation": "sum"}
    )
    # 450 leads by the end of Feb 14, half of Q1: 475 expected of 950, a pace of 0.947.
    await points_per_day(client, tenant, "leads", date(2026, 1, 1), 45, 10)
    await target(client, tenant, leads, 950)
    nps = await created(client, tenant, "/v1/kpis", {"key": "nps", "name": "NPS"})
    orphan = await created(client, tenant, "/v1/kpis", {"key": "legacy", "name": "Legacy"})
    grow_body = {"title": "Grow", "team": "growth", "owner": "ana", **Q1}
    grow = await created(client, tenant, "/v1/objectives", grow_body)
    kr_path = f"/v1/objectives/{grow}/key-results"
    sales_kr = await created(
        client,
        tenant,
        kr_path,
        {
            "title": "Sales",
            "direction": "increase",
            "start_value": 0,
            "target_value": 12_000,
            "kpi_id": sales,
        },
    )
    leads_kr = await created(
        client,
        tenant,
        kr_path,
        {"title": "Leads", "direction": "at_least", "target_value": 950, "kpi_id": leads},
    )
    shipped = await created(
        client,
        tenant,
        kr_path,
        {"title": "Shipped", "direction": "increase", "start_value": 0, "target_value": 10},
    )
    for value, day in ((2, "2026-01-10"), (4, "2026-01-20"), (6, "2026-01-30")):
        await check_in(client, tenant, shipped, value, f"{day}T12:00:00Z")
    await link(client, tenant, grow, nps)
    hire_body = {"title": "Hire", "team": "people", "owner": "bo", **Q1}
    hire = await created(client, tenant, "/v1/objectives", hire_body)
    return Org(sales, leads, nps, orphan, grow, sales_kr, leads_kr, shipped, hire)


async def feed(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await client.get(
        "/v1/insights", headers=tenant.headers, params={"as_of": AS_OF, **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_kind(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in body["items"]:
        found.setdefault(item["kind"], []).append(item)
    return found


async def test_every_kind_names_its_subject_number_and_expectation(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    org = await an_org(client, tenant)
    body = await feed(client, tenant, limit=500)
    kinds = by_kind(body)
    assert set(kinds) == {kind.value for kind in InsightKind}
    assert all(len(items) == 1 for items in kinds.values())
    severities = [item["severity"] for item in body["items"]]
    assert severities == sorted(severities, reverse=True)
    assert all(0 <= s <= 1 for s in severities)

    (off,) = kinds["kpi_off_track"]
    assert off["subject"] == {"type": "kpi", "id": org.sales, "title": "sales.daily"}
    assert (off["team"], off["owner"]) == ("growth", "ana")
    evidence = off["evidence"]
    assert evidence["target"] == 100_000
    assert evidence["pace"] == pytest.approx(evidence["actual"] / evidence["expected_to_date"])
    assert evidence["probability"] == 0.0
    assert off["message"].startswith(
        f"sales.daily is at {evidence['pace'] * 100:.0f}% of its pace for Q1 2026; "
        "at this rate it ends near "
    )
    assert off["message"].endswith(" of 100 k, with a 0% chance of meeting it.")
    assert off["severity"] > 0.9  # under a tenth of its pace

    (risk,) = kinds["kpi_at_risk"]
    assert risk["subject"]["id"] == org.leads
    assert risk["evidence"]["pace"] == pytest.approx(450 / 475)
    assert risk["message"].startswith(
        "Leads is at 95% of its pace for Q1 2026; at this rate it ends near 900 of 950"
    )
    assert 0.45 <= risk["severity"] <= 0.5

    (spike,) = kinds["kpi_anomaly"]
    assert spike["subject"]["id"] == org.sales
    assert spike["evidence"]["start"] == "2026-02-10T00:00:00+00:00"
    assert spike["evidence"]["value"] == 1_000
    assert spike["evidence"]["direction"] == "above"
    assert spike["message"].startswith("sales.daily was 1 k on 2026-02-10, above the ")

    (no_target,) = kinds["kpi_without_target"]
    assert no_target["subject"]["id"] == org.nps
    assert no_target["message"] == (
        "NPS measures an objective but has no target for 2026-02-14; "
        "set one to track whether it is on pace."
    )

    (missed,) = kinds["objective_likely_missed"]
    assert missed["subject"] == {"type": "objective", "id": org.grow, "title": "Grow"}
    assert missed["evidence"]["probability_achieved"] < 0.5
    assert missed["message"].startswith("Grow has a ")
    assert "chance of reaching 100% by 2026-03-31" in missed["message"]

    (stale,) = kinds["check_in_stale"]
    assert stale["subject"] == {"type": "key_result", "id": org.shipped, "title": "Shipped"}
    assert stale["evidence"]["check_in_every_days"] == 14
    assert stale["evidence"]["days_since"] == pytest.approx(15.5, abs=0.01)
    assert stale["message"] == (
        "Shipped (of Grow) was last checked in 15 days ago, on 2026-01-30; "
        "Grow expects one every 14 days."
    )

    (unaligned,) = kinds["objective_unaligned"]
    assert unaligned["subject"]["id"] == org.hire
    assert (unaligned["team"], unaligned["owner"]) == ("people", "bo")

    (orphan,) = kinds["kpi_orphan"]
    assert orphan["subject"]["id"] == org.orphan
    assert (orphan["team"], orphan["owner"]) == (None, None)
    assert orphan["message"].startswith("Legacy is not linked to any active objective")


async def test_filters_by_team_owner_and_kind(client: httpx.AsyncClient, tenant: Tenant) -> None:
    org = await an_org(client, tenant)
    people = await feed(client, tenant, team="people")
    assert [(i["kind"], i["subject"]["id"]) for i in people["items"]] == [
        ("objective_unaligned", org.hire)
    ]
    ana = by_kind(await feed(client, tenant, owner="ana"))
    # Everything but the unaligned objective (of bo) and the orphan KPI (of nobody).
    assert set(ana) == {kind.value for kind in InsightKind} - {"objective_unaligned", "kpi_orphan"}
    assert all(i["owner"] == "ana" for items in ana.values() for i in items)
    assert (await feed(client, tenant, team="growth", owner="bo"))["items"] == []
    only = await feed(client, tenant, kind=["kpi_orphan", "objective_unaligned"])
    assert {i["kind"] for i in only["items"]} == {"kpi_orphan", "objective_unaligned"}
    assert (await feed(client, tenant, team="nobody"))["items"] == []


async def test_a_stale_check_in_appears_after_the_inherited_cadence(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    parent = await created(client, tenant, "/v1/objectives", {"title": "Top", **Q1})
    child = await created(
        client, tenant, "/v1/objectives", {"title": "Ship", "parent_id": parent, **Q1}
    )
    item = await created(
        client,
        tenant,
        f"/v1/objectives/{child}/key-results",
        {"title": "Releases", "direction": "increase", "start_value": 0, "target_value": 4},
    )
    await check_in(client, tenant, item, 1, "2026-02-01T09:00:00Z")

    async def stale(as_of: str) -> list[dict[str, Any]]:
        body = await feed(client, tenant, as_of=as_of, kind="check_in_stale")
        return list(body["items"])

    assert await stale("2026-02-15T08:59:00Z") == []  # 13 days, 23 hours and 59 minutes
    (found,) = await stale("2026-02-15T09:01:00Z")
    assert found["subject"]["id"] == item
    patched = await client.patch(
        f"/v1/objectives/{parent}", headers=tenant.headers, json={"check_in_every_days": 3}
    )
    assert patched.status_code == 200, patched.text
    assert await stale("2026-02-04T08:00:00Z") == []
    (found,) = await stale("2026-02-04T10:00:00Z")  # the child inherits 3 days
    assert found["evidence"]["check_in_every_days"] == 3
    assert found["message"].endswith("Ship expects one every 3 days.")
    # Not before its objective starts, nor once it is over or closed.
    assert await stale("2026-04-01T00:00:00Z") == []
    await check_in(client, tenant, item, 2, "2026-02-04T09:30:00Z")
    assert await stale("2026-02-04T10:00:00Z") == []


async def test_a_key_result_never_checked_in_is_stale_a_cadence_after_it_was_added(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    today = datetime.now(UTC).date()
    dates = {"start_date": "2026-01-01", "due_date": (today + timedelta(days=60)).isoformat()}
    objective = await created(client, tenant, "/v1/objectives", {"title": "Quiet", **dates})
    item = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Nothing yet", "direction": "at_least", "target_value": 1},
    )
    # Its objective started long ago, but the key result was added today.
    soon = (today + timedelta(days=13)).isoformat()
    assert (await feed(client, tenant, as_of=soon, kind="check_in_stale"))["items"] == []
    later = (today + timedelta(days=16)).isoformat()
    (found,) = (await feed(client, tenant, as_of=later, kind="check_in_stale"))["items"]
    assert found["subject"]["id"] == item
    assert found["evidence"]["last_check_in_at"] is None
    assert found["message"] == (
        "Nothing yet (of Quiet) has had no check-in in the 16 days since it was added; "
        "Quiet expects one every 14 days."
    )


async def test_pages_follow_severity_and_cover_every_item_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await an_org(client, tenant)
    whole = (await feed(client, tenant, limit=500))["items"]
    pages = await walk_pages(client, f"/v1/insights?as_of={AS_OF}&limit=3", tenant.headers)
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [item for page in pages for item in page] == whole


async def test_bad_parameters_are_clear_422s(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for params, field in (
        ({"kind": "kpi_sad"}, "kind"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"threshold": 0}, "threshold"),
        ({"as_of": "2026-02-31"}, "as_of"),
    ):
        response = await client.get("/v1/insights", headers=tenant.headers, params=params)
        assert_problem(response, 422)
        assert any(field in error["loc"] for error in response.json()["errors"]), params


async def test_exports_list_every_insight(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await an_org(client, tenant)
    whole = (await feed(client, tenant, limit=500))["items"]
    response = await client.get(
        "/v1/insights",
        headers={**tenant.headers, "Accept": "text/csv"},
        params={"as_of": AS_OF, "limit": 1},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["subject_id"] for row in rows] == [item["subject"]["id"] for item in whole]
    assert json.loads(rows[0]["evidence"]) == whole[0]["evidence"]
    assert rows[0]["message"] == whole[0]["message"]
    response = await client.get(
        "/v1/insights",
        headers={**tenant.headers, "Accept": "application/x-ndjson"},
        params={"as_of": AS_OF},
    )
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == whole


async def test_another_orgs_feed_shows_nothing_of_this_one(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await an_org(client, tenant)
    assert (await feed(client, other_tenant))["items"] == []
    assert (await feed(client, other_tenant, owner="ana"))["items"] == []


async def test_an_empty_org_has_an_empty_feed(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = await feed(client, tenant)
    assert body == {"as_of": "2026-02-14T23:59:59.999999Z", "items": [], "next_cursor": None}


async def test_the_feed_follows_every_write(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """What the feed keeps between requests is kept per state of the org's data: a write
    shows in the next answer."""
    org = await an_org(client, tenant)
    before = by_kind(await feed(client, tenant))
    assert {i["subject"]["id"] for i in before["objective_likely_missed"]} == {org.grow}
    assert {i["subject"]["id"] for i in before["kpi_at_risk"]} == {org.leads}
    # Today's 10 leads corrected to 40: 480 of the 475 expected by now, on track.
    await points_per_day(client, tenant, "leads", date(2026, 2, 14), 1, 40)
    for key_result, target in ((org.sales_kr, 100), (org.leads_kr, 1)):
        patched = await client.patch(
            f"/v1/key-results/{key_result}", headers=tenant.headers, json={"target_value": target}
        )
        assert patched.status_code == 200, patched.text
    after = by_kind(await feed(client, tenant))
    assert "kpi_at_risk" not in after
    assert "objective_likely_missed" not in after
    assert {i["subject"]["id"] for i in after["kpi_off_track"]} == {org.sales}
