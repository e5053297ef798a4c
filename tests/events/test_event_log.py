"""The event log: every change recorded in its own transaction, read back in commit order."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.events import service
from perfapi.events.retention import prune_once
from perfapi.events.types import EventType
from tests.support import Tenant, assert_problem, created, walk_pages


async def events(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/events", headers=tenant.headers, params={"limit": 500, **params}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_change_is_announced_with_what_changed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await created(client, tenant, "/v1/kpis", {"key": "sales", "name": "Sales"})
    renamed = await client.patch(
        f"/v1/kpis/{kpi}", headers=tenant.headers, json={"name": "Net sales"}
    )
    assert renamed.status_code == 200, renamed.text
    objective = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-03-31"},
    )
    patched = await client.patch(
        f"/v1/objectives/{objective}", headers=tenant.headers, json={"owner": "ana"}
    )
    assert patched.status_code == 200, patched.text
    linked = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Sales", "direction": "at_least", "target_value": 5, "kpi_id": kpi},
    )
    manual = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Shipped", "direction": "at_least", "target_value": 3},
    )
    check_in = await created(
        client,
        tenant,
        f"/v1/key-results/{manual}/check-ins",
        {"value": 1, "at": "2026-01-10T12:00:00Z"},
    )
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "sales", "ts": "2026-01-05T12:00:00Z", "value": 2}] * 2},
    )
    assert sent.status_code in (200, 201), sent.text
    for path in (f"/v1/key-results/{linked}", f"/v1/key-results/{manual}"):
        assert (await client.delete(path, headers=tenant.headers)).status_code == 204
    assert (await client.delete(f"/v1/objectives/{objective}", headers=tenant.headers)).is_success
    assert (await client.delete(f"/v1/kpis/{kpi}", headers=tenant.headers)).is_success

    found = await events(client, tenant)
    assert [event["type"] for event in found] == [
        "kpi.created",
        "kpi.updated",
        "objective.created",
        "objective.updated",
        "key_result.created",
        "key_result.created",
        "check_in.created",
        "points.ingested",
        "key_result.deleted",
        "key_result.deleted",
        "objective.deleted",
        "kpi.deleted",
    ]
    positions = [int(event["id"].removeprefix("evt_")) for event in found]
    assert positions == sorted(positions)
    by_type = {event["type"]: event["data"] for event in found}
    assert by_type["kpi.created"]["kpi"]["key"] == "sales"
    assert by_type["kpi.updated"]["kpi"]["name"] == "Net sales"
    assert by_type["kpi.updated"]["previous"] == {"name": "Sales"}
    assert by_type["objective.created"]["objective"]["title"] == "Grow"
    assert by_type["objective.updated"]["previous"] == {"owner": None}
    assert by_type["objective.updated"]["objective"]["owner"] == "ana"
    assert by_type["check_in.created"]["check_in"]["id"] == check_in
    assert by_type["check_in.created"]["key_result"] == {
        "id": manual,
        "objective_id": objective,
        "title": "Shipped",
    }
    assert by_type["points.ingested"] == {
        "received": 2,
        "inserted": 1,
        "updated": 0,
        "unchanged": 1,
        "kpis": ["sales"],
    }
    assert by_type["objective.deleted"]["objective"]["id"] == objective
    assert by_type["kpi.deleted"]["kpi"]["key"] == "sales"
    assert all("org_id" not in data[next(iter(data))] for data in by_type.values() if data)


async def test_a_refused_change_announces_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await created(client, tenant, "/v1/kpis", {"key": "sales", "name": "Sales"})
    points = [
        {"kpi": "sales", "ts": "2026-01-05T12:00:00Z", "value": 2},
        {"kpi": "nothing", "ts": "2026-01-05T12:00:00Z", "value": 2},
    ]
    refused = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert_problem(refused, 422)
    bad_dates = {"title": "Grow", "start_date": "2026-03-01", "due_date": "2026-01-31"}
    assert_problem(await client.post("/v1/objectives", headers=tenant.headers, json=bad_dates), 422)
    assert [event["type"] for event in await events(client, tenant)] == ["kpi.created"]


async def test_pages_types_and_bad_parameters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for number in range(5):
        await created(client, tenant, "/v1/kpis", {"key": f"k{number}", "name": f"K {number}"})
    await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-03-31"},
    )
    every = await events(client, tenant)
    pages = await walk_pages(client, "/v1/events?limit=2", tenant.headers)
    assert [len(page) for page in pages] == [2, 2, 2]
    assert [event for page in pages for event in page] == every
    assert await events(client, tenant, after=every[3]["id"]) == every[4:]
    assert await events(client, tenant, type="objective.created") == every[5:]
    both = await events(client, tenant, type=["objective.created", "kpi.created"])
    assert both == every
    for params in (
        {"type": "kpi.exploded"},
        {"after": "evt_x1"},
        {"after": "42"},
        {"cursor": "bm9wZQ"},
        {"limit": 0},
    ):
        response = await client.get("/v1/events", headers=tenant.headers, params=params)
        assert_problem(response, 422)


async def test_another_orgs_events_are_invisible(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await created(client, tenant, "/v1/kpis", {"key": "sales", "name": "Sales"})
    assert await events(client, other_tenant) == []
    first = (await events(client, tenant))[0]["id"]
    assert await events(client, other_tenant, after="evt_0") == []
    assert first.startswith("evt_")


async def test_positions_follow_the_order_of_commits(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An event recorded first but committed last comes last: a reader that has seen a
    position never later finds one of the org's events before it."""
    async with sessionmaker() as slow:
        await slow.begin()
        await service.record(slow, tenant.id, EventType.KPI_CREATED, {"kpi": {"key": "slow"}})
        async with sessionmaker() as quick, quick.begin():
            await service.record(quick, tenant.id, EventType.KPI_CREATED, {"kpi": {"key": "quick"}})
        seen = await events(client, tenant)
        assert [event["data"]["kpi"]["key"] for event in seen] == ["quick"]
        await slow.commit()
    after = await events(client, tenant, after=seen[-1]["id"])
    assert [event["data"]["kpi"]["key"] for event in after] == ["slow"]


async def test_old_events_are_pruned_and_unknown_types_skipped(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    for key in ("old", "new"):
        await created(client, tenant, "/v1/kpis", {"key": key, "name": key})
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE events SET created_at = now() - interval '31 days' "
                "WHERE data->'kpi'->>'key' = 'old'"
            )
        )
        # A type of another version of perfapi: skipped, never a failed read.
        await session.execute(
            text("INSERT INTO events (org_id, type, data) VALUES (:org, 'future.thing', '{}')"),
            {"org": tenant.id},
        )
    assert len(await events(client, tenant)) == 2
    assert await prune_once(sessionmaker, settings, datetime.now(UTC)) == 1
    assert [e["data"]["kpi"]["key"] for e in await events(client, tenant)] == ["new"]
    later = datetime.now(UTC) + timedelta(days=31)
    assert await prune_once(sessionmaker, settings, later) == 2
    assert await events(client, tenant) == []


async def test_ingestion_announces_only_the_kpis_it_changed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for key in ("sales", "churn"):
        await created(client, tenant, "/v1/kpis", {"key": key, "name": key})

    async def send(sales: float, churn: float) -> None:
        points = [
            {"kpi": "sales", "ts": "2026-01-10T00:00:00Z", "value": sales},
            {"kpi": "churn", "ts": "2026-01-10T00:00:00Z", "value": churn},
        ]
        response = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
        assert response.status_code == 200, response.text

    await send(1, 2)
    await send(1, 2)  # nothing changes: nothing to announce
    await send(5, 2)  # through the merge: only sales changes
    ingested = await events(client, tenant, type="points.ingested")
    assert [(e["data"]["inserted"], e["data"]["updated"]) for e in ingested] == [(2, 0), (0, 1)]
    assert [e["data"]["kpis"] for e in ingested] == [["churn", "sales"], ["sales"]]
