"""KPI targets: /v1/kpis/{id}/targets (list, create) and /v1/kpi-targets/{id} (get, delete)."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token

KPIS = "/v1/kpis"
TARGETS = "/v1/kpi-targets"
Q2 = {"period_start": "2026-04-01", "period_end": "2026-06-30", "value": 250.0}


async def create_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str = "arr") -> str:
    response = await client.post(KPIS, headers=tenant.headers, json={"key": key, "name": key})
    assert response.status_code == 201, response.text
    kpi_id: str = response.json()["id"]
    return kpi_id


async def add_target(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str, start: str, end: str, value: float
) -> dict[str, Any]:
    response = await client.post(
        f"{KPIS}/{kpi_id}/targets",
        headers=tenant.headers,
        json={"period_start": start, "period_end": end, "value": value},
    )
    assert response.status_code == 201, response.text
    target: dict[str, Any] = response.json()
    return target


async def list_targets(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{KPIS}/{kpi_id}/targets", headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_create_returns_201_with_location(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant)
    response = await client.post(f"{KPIS}/{kpi_id}/targets", headers=tenant.headers, json=Q2)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{TARGETS}/{created['id']}"
    assert created["kpi_id"] == kpi_id
    assert (created["period_start"], created["period_end"]) == ("2026-04-01", "2026-06-30")
    assert created["value"] == 250.0
    assert created["created_at"]

    fetched = await client.get(response.headers["location"], headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert await list_targets(client, tenant, kpi_id) == [created]


async def test_a_single_day_period_is_fine(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant)
    target = await add_target(client, tenant, kpi_id, "2026-02-28", "2026-02-28", -3.5)
    assert target["period_start"] == target["period_end"] == "2026-02-28"
    assert target["value"] == -3.5


async def test_list_is_ordered_by_period_start_and_pages(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    q3 = await add_target(client, tenant, kpi_id, "2026-07-01", "2026-09-30", 3)
    q1 = await add_target(client, tenant, kpi_id, "2026-01-01", "2026-03-31", 1)
    q4 = await add_target(client, tenant, kpi_id, "2026-10-01", "2026-12-31", 4)
    q2 = await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 2)
    assert await list_targets(client, tenant, kpi_id) == [q1, q2, q3, q4]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        response = await client.get(
            f"{KPIS}/{kpi_id}/targets", headers=tenant.headers, params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [q1["id"], q2["id"], q3["id"], q4["id"]]


async def test_end_before_start_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    response = await client.post(
        f"{KPIS}/{kpi_id}/targets",
        headers=tenant.headers,
        json={"period_start": "2026-03-01", "period_end": "2026-02-28", "value": 1},
    )
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "period_end"]]
    assert await list_targets(client, tenant, kpi_id) == []


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"period_start": "2026-01-01", "period_end": "2026-01-31"}, ["body", "value"]),
        ({"period_end": "2026-01-31", "value": 1}, ["body", "period_start"]),
        ({"period_start": "2026-01-01", "value": 1}, ["body", "period_end"]),
        (
            {"period_start": "2026-13-01", "period_end": "2026-12-31", "value": 1},
            ["body", "period_start"],
        ),
        (
            {"period_start": "2026-01-01", "period_end": "2026-01-31", "value": "lots"},
            ["body", "value"],
        ),
        (
            {"period_start": "2026-01-01", "period_end": "2026-01-31", "value": 1, "note": "x"},
            ["body", "note"],
        ),
    ],
)
async def test_invalid_target_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], loc: list[Any]
) -> None:
    kpi_id = await create_kpi(client, tenant)
    response = await client.post(f"{KPIS}/{kpi_id}/targets", headers=tenant.headers, json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert loc in error_locs(body)
    assert await list_targets(client, tenant, kpi_id) == []


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_a_non_finite_value_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, literal: bytes
) -> None:
    kpi_id = await create_kpi(client, tenant)
    response = await client.post(
        f"{KPIS}/{kpi_id}/targets",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b'{"period_start":"2026-01-01","period_end":"2026-01-31","value":' + literal + b"}",
    )
    body = assert_problem(response, 422, "validation-error")
    assert ["body", "value"] in error_locs(body)
    assert await list_targets(client, tenant, kpi_id) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param("2026-03-01", "2026-04-15", id="overlaps-the-start"),
        pytest.param("2026-06-15", "2026-07-15", id="overlaps-the-end"),
        pytest.param("2026-05-01", "2026-05-31", id="inside"),
        pytest.param("2026-01-01", "2026-12-31", id="contains"),
        pytest.param("2026-04-01", "2026-06-30", id="identical"),
        pytest.param("2026-03-01", "2026-04-01", id="shares-the-first-day"),
        pytest.param("2026-06-30", "2026-07-31", id="shares-the-last-day"),
        pytest.param("2026-06-30", "2026-06-30", id="single-day-on-the-last-day"),
    ],
)
async def test_an_overlapping_period_is_409(
    client: httpx.AsyncClient, tenant: Tenant, start: str, end: str
) -> None:
    kpi_id = await create_kpi(client, tenant)
    existing = await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 250)
    response = await client.post(
        f"{KPIS}/{kpi_id}/targets",
        headers=tenant.headers,
        json={"period_start": start, "period_end": end, "value": 1},
    )
    assert_problem(response, 409, "conflict")
    assert await list_targets(client, tenant, kpi_id) == [existing]


async def test_adjacent_periods_are_fine(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant)
    q2 = await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 2)
    q3 = await add_target(client, tenant, kpi_id, "2026-07-01", "2026-09-30", 3)
    q1 = await add_target(client, tenant, kpi_id, "2026-01-01", "2026-03-31", 1)
    assert await list_targets(client, tenant, kpi_id) == [q1, q2, q3]


async def test_periods_only_clash_within_one_kpi(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await create_kpi(client, tenant, "arr")
    second = await create_kpi(client, tenant, "mrr")
    theirs = await create_kpi(client, other_tenant, "arr")
    for kpi_id, owner in [(first, tenant), (second, tenant), (theirs, other_tenant)]:
        await add_target(client, owner, kpi_id, "2026-04-01", "2026-06-30", 1)
        assert len(await list_targets(client, owner, kpi_id)) == 1


async def test_concurrent_overlapping_creates_give_one_201(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    # Every period contains 2026-03-15, so each pair overlaps and only one can win.
    periods = [
        ("2026-01-01", "2026-03-31"),
        ("2026-02-01", "2026-04-30"),
        ("2026-03-15", "2026-03-15"),
        ("2026-01-01", "2026-12-31"),
        ("2026-03-15", "2026-05-31"),
    ]
    responses = await asyncio.gather(
        *(
            client.post(
                f"{KPIS}/{kpi_id}/targets",
                headers=tenant.headers,
                json={"period_start": start, "period_end": end, "value": n},
            )
            for n, (start, end) in enumerate(periods)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "conflict")
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert await list_targets(client, tenant, kpi_id) == [winner]


async def test_unknown_kpi_is_404_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    missing = f"{KPIS}/{uuid.uuid4()}/targets"
    assert_problem(await client.get(missing, headers=tenant.headers), 404, "not-found")
    assert_problem(await client.post(missing, headers=tenant.headers, json=Q2), 404, "not-found")
    # The KPI the tenant does have got no targets either.
    kpi_id = await create_kpi(client, tenant)
    assert await list_targets(client, tenant, kpi_id) == []


async def test_delete_then_get_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant)
    kept = await add_target(client, tenant, kpi_id, "2026-01-01", "2026-03-31", 1)
    doomed = await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 2)
    url = f"{TARGETS}/{doomed['id']}"
    deleted = await client.delete(url, headers=tenant.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(url, headers=tenant.headers), 404, "not-found")
    assert_problem(await client.delete(url, headers=tenant.headers), 404, "not-found")
    assert await list_targets(client, tenant, kpi_id) == [kept]
    # The freed period can be set again.
    await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 3)


async def test_unknown_target_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    url = f"{TARGETS}/{uuid.uuid4()}"
    assert_problem(await client.get(url, headers=tenant.headers), 404, "not-found")
    assert_problem(await client.delete(url, headers=tenant.headers), 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", f"{TARGETS}/not-a-uuid", ["path", "target_id"]),
        ("DELETE", f"{TARGETS}/not-a-uuid", ["path", "target_id"]),
        ("GET", f"{KPIS}/not-a-uuid/targets", ["path", "kpi_id"]),
        ("POST", f"{KPIS}/not-a-uuid/targets", ["path", "kpi_id"]),
    ],
)
async def test_malformed_id_is_422(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str, loc: list[str]
) -> None:
    payload = Q2 if method == "POST" else None
    response = await client.request(method, path, headers=tenant.headers, json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert loc in error_locs(body)


async def test_a_read_only_key_cannot_write_targets(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kpi_id = await create_kpi(client, tenant)
    target = await add_target(client, tenant, kpi_id, "2026-04-01", "2026-06-30", 2)
    reader = bearer(await make_token(sessionmaker, tenant, Scope.READ))
    listed = await client.get(f"{KPIS}/{kpi_id}/targets", headers=reader)
    assert listed.json()["items"] == [target]
    assert (await client.get(f"{TARGETS}/{target['id']}", headers=reader)).json() == target
    new = {"period_start": "2026-07-01", "period_end": "2026-07-31", "value": 1}
    created = await client.post(f"{KPIS}/{kpi_id}/targets", headers=reader, json=new)
    assert_problem(created, 403, "forbidden")
    assert_problem(await client.delete(f"{TARGETS}/{target['id']}", headers=reader), 403)
    assert await list_targets(client, tenant, kpi_id) == [target]
