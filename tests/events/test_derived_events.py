"""Derived events: announced once per change of a computed value, after the commit."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.events import derived
from perfapi.events.derived import evaluate_due, evaluate_org
from perfapi.kit.backoff import Backoff
from tests.support import Tenant, created

NOW = datetime(2026, 2, 14, 23, 0, tzinfo=UTC)  # half of Q1 2026 elapsed, about


async def derived_events(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/events",
        headers=tenant.headers,
        params={
            "limit": 500,
            "type": ["kpi.status_changed", "objective.progress_changed", "objective.achieved"],
        },
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def send(client: httpx.AsyncClient, tenant: Tenant, day: str, value: float) -> None:
    point = {"kpi": "leads", "ts": f"{day}T12:00:00Z", "value": value}
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": [point]})
    assert sent.status_code in (200, 201), sent.text


async def a_kpi_with_a_target(client: httpx.AsyncClient, tenant: Tenant) -> str:
    kpi = await created(
        client, tenant, "/v1/kpis", {"key": "leads", "name": "Leads", "aggregation": "sum"}
    )
    target = {"period_start": "2026-01-01", "period_end": "2026-03-31", "value": 900}
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", target)
    return kpi


async def test_a_kpi_status_change_is_announced_once(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi = await a_kpi_with_a_target(client, tenant)
    await send(client, tenant, "2026-01-10", 100)  # 100 of about 450 expected: off track
    assert await evaluate_due(sessionmaker, NOW) == 1
    assert await evaluate_due(sessionmaker, NOW) == 0  # nothing changed since
    await send(client, tenant, "2026-01-11", 20)  # still off track: no event
    assert await evaluate_due(sessionmaker, NOW) == 0
    await send(client, tenant, "2026-02-01", 400)  # 520: on track
    assert await evaluate_due(sessionmaker, NOW) == 1
    found = await derived_events(client, tenant)
    assert [(e["data"]["from"], e["data"]["to"]) for e in found] == [
        (None, "off_track"),
        ("off_track", "on_track"),
    ]
    last = found[-1]["data"]
    assert last["kpi"] == {"id": kpi, "key": "leads", "name": "Leads"}
    assert last["period_start"] == "2026-01-01"
    assert last["period_end"] == "2026-03-31"
    assert last["pace"] > 1


async def test_objective_progress_and_achievement_are_announced(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    objective = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Ship", "start_date": "2026-01-01", "due_date": "2026-03-31"},
    )
    item = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Releases", "direction": "increase", "start_value": 0, "target_value": 4},
    )
    await evaluate_due(sessionmaker, NOW)  # no check-in yet: progress 0
    for value, day in ((2, "2026-01-20"), (4, "2026-02-10")):
        await created(
            client,
            tenant,
            f"/v1/key-results/{item}/check-ins",
            {"value": value, "at": f"{day}T09:00:00Z"},
        )
        await evaluate_due(sessionmaker, NOW)
    found = [
        (e["type"], e["data"].get("from"), e["data"].get("to"))
        for e in await derived_events(client, tenant)
    ]
    assert found == [
        ("objective.progress_changed", None, 0.0),
        ("objective.progress_changed", 0.0, 0.5),
        ("objective.progress_changed", 0.5, 1.0),
        ("objective.achieved", None, None),
    ]
    achieved = (await derived_events(client, tenant))[-1]["data"]
    assert achieved == {
        "objective": {"id": objective, "title": "Ship", "team": None},
        "progress": 1.0,
    }


async def test_two_evaluations_at_once_announce_a_change_once(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await a_kpi_with_a_target(client, tenant)
    await send(client, tenant, "2026-01-10", 100)

    async def evaluate() -> int:
        async with sessionmaker() as session, session.begin():
            return await evaluate_org(session, tenant.id, NOW)

    counts = await asyncio.gather(evaluate(), evaluate())
    assert sorted(counts) == [0, 1]
    assert len(await derived_events(client, tenant)) == 1


async def test_orgs_are_evaluated_apart(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await a_kpi_with_a_target(client, tenant)
    await send(client, tenant, "2026-01-10", 100)
    await created(client, other_tenant, "/v1/kpis", {"key": "other", "name": "Other"})
    assert await evaluate_due(sessionmaker, NOW) == 1
    assert len(await derived_events(client, tenant)) == 1
    assert await derived_events(client, other_tenant) == []


async def test_an_org_that_fails_is_set_aside_and_holds_up_no_other(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for org in (tenant, other_tenant):
        await a_kpi_with_a_target(client, org)
        await send(client, org, "2026-01-10", 100)
    evaluate_kpis = derived._kpis

    async def failing_for_tenant(session: AsyncSession, org_id: UUID, now: datetime) -> int:
        if org_id == tenant.id:
            raise RuntimeError("a stored value this version cannot read")
        return await evaluate_kpis(session, org_id, now)

    monkeypatch.setattr(derived, "_kpis", failing_for_tenant)
    registry = CollectorRegistry()
    failures = Counter("failures", "test", registry=registry)
    backoff = Backoff()
    assert await evaluate_due(sessionmaker, NOW, backoff, failures) == 1  # the other org's
    assert registry.get_sample_value("failures_total") == 1
    assert backoff.set_aside(NOW) == {tenant.id}
    assert await derived_events(client, tenant) == []  # its transaction rolled back
    assert len(await derived_events(client, other_tenant)) == 1
    # Set aside: not tried again while its delay runs.
    assert await evaluate_due(sessionmaker, NOW, backoff, failures) == 0
    assert registry.get_sample_value("failures_total") == 1
    monkeypatch.undo()
    later = NOW + timedelta(minutes=10)
    assert await evaluate_due(sessionmaker, later, backoff, failures) == 1
    assert backoff.set_aside(later) == set()
