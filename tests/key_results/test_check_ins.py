"""Check-ins: record, default and explicit times, validation, KPI-linked key results, order, ids."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token, walk_pages

CHECK_IN_FIELDS = ["id", "key_result_id", "value", "at", "note", "confidence", "created_at"]


async def make_objective(client: httpx.AsyncClient, tenant: Tenant) -> str:
    response = await client.post(
        "/v1/objectives",
        headers=tenant.headers,
        json={"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
    )
    assert response.status_code == 201, response.text
    objective_id: str = response.json()["id"]
    return objective_id


async def make_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str = "sales.arr") -> str:
    response = await client.post(
        "/v1/kpis", headers=tenant.headers, json={"key": key, "name": key.upper()}
    )
    assert response.status_code == 201, response.text
    kpi_id: str = response.json()["id"]
    return kpi_id


async def make_kr(client: httpx.AsyncClient, tenant: Tenant, kpi_id: str | None = None) -> str:
    objective_id = await make_objective(client, tenant)
    response = await client.post(
        f"/v1/objectives/{objective_id}/key-results",
        headers=tenant.headers,
        json={
            "title": "Grow ARR",
            "direction": "increase",
            "start_value": 0,
            "target_value": 100,
            "kpi_id": kpi_id,
        },
    )
    assert response.status_code == 201, response.text
    kr_id: str = response.json()["id"]
    return kr_id


async def check_in(
    client: httpx.AsyncClient, tenant: Tenant, kr_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/key-results/{kr_id}/check-ins", headers=tenant.headers, json=payload
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def list_check_ins(
    client: httpx.AsyncClient, tenant: Tenant, kr_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/key-results/{kr_id}/check-ins", headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


async def test_create_returns_201_with_location(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kr_id = await make_kr(client, tenant)
    response = await client.post(
        f"/v1/key-results/{kr_id}/check-ins",
        headers=tenant.headers,
        json={"value": 42.5, "note": "Good week", "confidence": 0.7},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/check-ins/{created['id']}"
    assert set(CHECK_IN_FIELDS) <= set(created)
    assert created["key_result_id"] == kr_id
    assert (created["value"], created["note"], created["confidence"]) == (42.5, "Good week", 0.7)
    fetched = await client.get(response.headers["location"], headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert await list_check_ins(client, tenant, kr_id) == [created]


async def test_at_defaults_to_now(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kr_id = await make_kr(client, tenant)
    before = datetime.now(UTC)
    created = await check_in(client, tenant, kr_id, {"value": 1})
    after = datetime.now(UTC)
    assert before <= instant(created["at"]) <= after
    assert created["note"] is None
    assert created["confidence"] is None


async def test_explicit_at_with_offset_is_kept(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kr_id = await make_kr(client, tenant)
    created = await check_in(client, tenant, kr_id, {"value": 1, "at": "2026-03-01T10:00:00+02:00"})
    assert instant(created["at"]) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    fetched = (await client.get(f"/v1/check-ins/{created['id']}", headers=tenant.headers)).json()
    assert instant(fetched["at"]) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"value": 1, "at": "2026-03-01T10:00:00"}, ["body", "at"]),
        ({"value": 1, "at": "yesterday"}, ["body", "at"]),
        ({"value": 1, "confidence": -0.1}, ["body", "confidence"]),
        ({"value": 1, "confidence": 1.1}, ["body", "confidence"]),
        ({"note": "no value"}, ["body", "value"]),
        ({"value": None}, ["body", "value"]),
        ({"value": "lots"}, ["body", "value"]),
        ({"value": 1, "mood": "great"}, ["body", "mood"]),
    ],
)
async def test_invalid_check_in_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], loc: list[str]
) -> None:
    kr_id = await make_kr(client, tenant)
    response = await client.post(
        f"/v1/key-results/{kr_id}/check-ins", headers=tenant.headers, json=payload
    )
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [loc]
    assert await list_check_ins(client, tenant, kr_id) == []


@pytest.mark.parametrize("confidence", [0, 1])
async def test_confidence_bounds_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, confidence: int
) -> None:
    kr_id = await make_kr(client, tenant)
    created = await check_in(client, tenant, kr_id, {"value": 3, "confidence": confidence})
    assert created["confidence"] == confidence
    assert [item["id"] for item in await list_check_ins(client, tenant, kr_id)] == [created["id"]]


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_finite_value_is_422(
    client: httpx.AsyncClient, tenant: Tenant, number: bytes
) -> None:
    kr_id = await make_kr(client, tenant)
    response = await client.post(
        f"/v1/key-results/{kr_id}/check-ins",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b'{"value": ' + number + b"}",
    )
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "value"]]
    assert await list_check_ins(client, tenant, kr_id) == []


async def test_key_result_linked_to_a_kpi_takes_no_check_ins_until_unlinked(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kr_id = await make_kr(client, tenant, kpi_id=await make_kpi(client, tenant))
    path = f"/v1/key-results/{kr_id}/check-ins"
    response = await client.post(path, headers=tenant.headers, json={"value": 5})
    assert_problem(response, 409, "conflict")
    assert await list_check_ins(client, tenant, kr_id) == []

    unlink = await client.patch(
        f"/v1/key-results/{kr_id}", headers=tenant.headers, json={"kpi_id": None}
    )
    assert unlink.status_code == 200, unlink.text
    created = await check_in(client, tenant, kr_id, {"value": 5})
    assert [item["id"] for item in await list_check_ins(client, tenant, kr_id)] == [created["id"]]


async def test_list_is_ordered_by_at_and_paginates(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kr_id = await make_kr(client, tenant)
    other_kr = await make_kr(client, tenant)
    await check_in(client, tenant, other_kr, {"value": 0, "at": "2026-01-01T00:00:00Z"})
    days = [5, 2, 9, 1, 7]  # created out of order
    by_day = {
        day: (
            await check_in(
                client, tenant, kr_id, {"value": day, "at": f"2026-02-{day:02d}T12:00:00+00:00"}
            )
        )["id"]
        for day in days
    }
    expected = [by_day[day] for day in sorted(days)]
    listed = await list_check_ins(client, tenant, kr_id)
    assert [item["id"] for item in listed] == expected
    assert [item["value"] for item in listed] == sorted(days)

    pages = await walk_pages(client, f"/v1/key-results/{kr_id}/check-ins?limit=2", tenant.headers)
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [item["id"] for page in pages for item in page]
    assert seen == expected


async def test_get_and_delete_one(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kr_id = await make_kr(client, tenant)
    first = await check_in(client, tenant, kr_id, {"value": 1, "at": "2026-02-01T00:00:00Z"})
    second = await check_in(client, tenant, kr_id, {"value": 2, "at": "2026-02-02T00:00:00Z"})
    fetched = await client.get(f"/v1/check-ins/{first['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == first

    deleted = await client.delete(f"/v1/check-ins/{first['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(f"/v1/check-ins/{first['id']}", headers=tenant.headers), 404)
    again = await client.delete(f"/v1/check-ins/{first['id']}", headers=tenant.headers)
    assert_problem(again, 404, "not-found")
    assert await list_check_ins(client, tenant, kr_id) == [second]


async def test_unknown_ids_are_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = uuid.uuid4()
    path = f"/v1/key-results/{missing}/check-ins"
    assert_problem(await client.get(path, headers=tenant.headers), 404)
    assert_problem(await client.post(path, headers=tenant.headers, json={"value": 1}), 404)
    assert_problem(await client.get(f"/v1/check-ins/{missing}", headers=tenant.headers), 404)
    assert_problem(await client.delete(f"/v1/check-ins/{missing}", headers=tenant.headers), 404)


async def test_read_only_key_reads_but_cannot_write(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kr_id = await make_kr(client, tenant)
    created = await check_in(client, tenant, kr_id, {"value": 1})
    reader = bearer(await make_token(sessionmaker, tenant, Scope.READ))

    listed = await client.get(f"/v1/key-results/{kr_id}/check-ins", headers=reader)
    assert listed.json()["items"] == [created]
    assert (await client.get(f"/v1/check-ins/{created['id']}", headers=reader)).json() == created
    post = await client.post(
        f"/v1/key-results/{kr_id}/check-ins", headers=reader, json={"value": 2}
    )
    assert_problem(post, 403, "forbidden")
    delete = await client.delete(f"/v1/check-ins/{created['id']}", headers=reader)
    assert_problem(delete, 403, "forbidden")
    assert await list_check_ins(client, tenant, kr_id) == [created]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/key-results/{kr}", None),
        ("PATCH", "/v1/key-results/{kr}", {"title": "Mine now", "kpi_id": None}),
        ("DELETE", "/v1/key-results/{kr}", None),
        ("GET", "/v1/key-results/{kr}/check-ins", None),
        ("POST", "/v1/key-results/{kr}/check-ins", {"value": 99}),
        ("GET", "/v1/check-ins/{check_in}", None),
        ("DELETE", "/v1/check-ins/{check_in}", None),
    ],
)
async def test_another_orgs_ids_are_404_and_their_data_unchanged(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    await make_kr(client, tenant)  # the tenant has data of its own
    their_kr = await make_kr(client, other_tenant)
    theirs = await check_in(client, other_tenant, their_kr, {"value": 7})
    kr_before = (
        await client.get(f"/v1/key-results/{their_kr}", headers=other_tenant.headers)
    ).json()

    url = path.format(kr=their_kr, check_in=theirs["id"])
    response = await client.request(method, url, headers=tenant.headers, json=body)
    assert_problem(response, 404, "not-found")

    kr_after = await client.get(f"/v1/key-results/{their_kr}", headers=other_tenant.headers)
    assert kr_after.status_code == 200
    assert kr_after.json() == kr_before
    assert await list_check_ins(client, other_tenant, their_kr) == [theirs]
    still = await client.get(f"/v1/check-ins/{theirs['id']}", headers=other_tenant.headers)
    assert still.json() == theirs
