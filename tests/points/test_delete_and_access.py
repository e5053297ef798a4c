"""DELETE /v1/kpis/{id}/points, deleting a KPI with its points, scopes and org isolation."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.points.helpers import (
    assert_no_points,
    count_points,
    counts,
    create_kpi,
    list_points,
    point,
    post_json,
    post_points,
    result,
    ts,
)
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token

KPI = "sales.mrr"


def url(kpi_id: str) -> str:
    return f"/v1/kpis/{kpi_id}/points"


async def seeded(client: httpx.AsyncClient, tenant: Tenant, key: str = KPI) -> str:
    """A KPI with points at minutes 0..9, two per minute (with and without a team)."""
    kpi_id = await create_kpi(client, tenant, key)
    sent = [point(key, minute, float(minute)) for minute in range(10)]
    sent += [point(key, minute, float(minute), team="emea") for minute in range(10)]
    assert counts(await post_json(client, tenant, sent)) == result(20, 20, 0, 0)
    return kpi_id


def values(items: list[dict[str, object]]) -> list[float]:
    return sorted(float(item["value"]) for item in items)  # type: ignore[arg-type]


async def test_delete_removes_only_the_range(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await seeded(client, tenant)
    other_id = await seeded(client, tenant, "sales.churn")
    params = {"from": ts(3), "to": ts(7)}
    response = await client.delete(url(kpi_id), headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 8}  # minutes 3, 4, 5, 6, both dimension sets
    left = await list_points(client, tenant, kpi_id)
    assert values(left) == [m for m in (0.0, 1.0, 2.0, 7.0, 8.0, 9.0) for _ in range(2)]
    assert len(await list_points(client, tenant, other_id)) == 20

    again = await client.delete(url(kpi_id), headers=tenant.headers, params=params)
    assert again.json() == {"deleted": 0}


async def test_delete_with_dates_as_bounds(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await seeded(client, tenant)
    late = [point(KPI, 24 * 60 + 5, 1.0)]  # 2026-01-02T00:05Z
    assert (await post_json(client, tenant, late)).status_code == 200
    params = {"from": "2026-01-01", "to": "2026-01-02"}
    response = await client.delete(url(kpi_id), headers=tenant.headers, params=params)
    assert response.json() == {"deleted": 20}
    assert [item["ts"] for item in await list_points(client, tenant, kpi_id)] == [ts(24 * 60 + 5)]


@pytest.mark.parametrize(
    ("params", "locs"),
    [
        ({}, [["query", "from"], ["query", "to"]]),
        ({"to": ts(5)}, [["query", "from"]]),
        ({"from": ts(5)}, [["query", "to"]]),
        ({"from": ts(5), "to": ts(5)}, [["query", "to"]]),
        ({"from": ts(6), "to": ts(5)}, [["query", "to"]]),
        ({"from": "2026-01-01T00:00:00", "to": ts(5)}, [["query", "from"]]),
        ({"from": ts(0), "to": "later"}, [["query", "to"]]),
    ],
)
async def test_delete_needs_both_valid_bounds(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], locs: list[list[str]]
) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.delete(url(kpi_id), headers=tenant.headers, params=params)
    assert error_locs(assert_problem(response, 422)) == locs
    assert len(await list_points(client, tenant, kpi_id)) == 20


async def test_delete_on_unknown_kpi_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    params = {"from": ts(0), "to": ts(5)}
    missing = await client.delete(url(str(uuid.uuid4())), headers=tenant.headers, params=params)
    assert_problem(missing, 404)
    malformed = await client.delete(url("nope"), headers=tenant.headers, params=params)
    assert error_locs(assert_problem(malformed, 422)) == [["path", "kpi_id"]]


async def test_deleting_a_kpi_deletes_its_points(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await seeded(client, tenant)
    other_id = await seeded(client, tenant, "sales.churn")
    assert (await client.delete(f"/v1/kpis/{kpi_id}", headers=tenant.headers)).status_code == 204
    assert await count_points(sessionmaker, kpi_id) == 0
    assert_problem(await client.get(url(kpi_id), headers=tenant.headers), 404)

    again_id = await create_kpi(client, tenant, KPI)
    assert again_id != kpi_id
    await assert_no_points(client, tenant, again_id)
    # Points sent to the key now go to the new KPI, as new points.
    resent = await post_json(client, tenant, [point(KPI, 0, 0.0)])
    assert counts(resent) == result(1, 1, 0, 0)
    assert len(await list_points(client, tenant, again_id)) == 1
    assert len(await list_points(client, tenant, other_id)) == 20


async def test_ingest_needs_the_ingest_scope(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    token = await make_token(sessionmaker, tenant, Scope.READ, Scope.WRITE)
    writer = Tenant(tenant.id, tenant.name, token)
    for fmt in ("json", "ndjson", "csv"):
        response = await post_points(client, writer, fmt, [point(KPI, 0, 1.0)])
        body = assert_problem(response, 403, "forbidden")
        assert "ingest" in body["detail"]
    await assert_no_points(client, tenant, kpi_id)
    anonymous = await client.post("/v1/points", json={"points": [point(KPI, 0, 1.0)]})
    assert_problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    await assert_no_points(client, tenant, kpi_id)


async def test_ingest_only_key_cannot_read_or_delete(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    token = await make_token(sessionmaker, tenant, Scope.INGEST)
    sent = await post_json(client, Tenant(tenant.id, tenant.name, token), [point(KPI, 0, 1.0)])
    assert counts(sent) == result(1, 1, 0, 0)
    assert_problem(await client.get(url(kpi_id), headers=bearer(token)), 403)
    export = await client.get(url(kpi_id), headers=bearer(token), params={"format": "csv"})
    assert_problem(export, 403)
    params = {"from": ts(0), "to": ts(5)}
    assert_problem(await client.delete(url(kpi_id), headers=bearer(token), params=params), 403)
    read_only = await make_token(sessionmaker, tenant, Scope.READ)
    delete = await client.delete(url(kpi_id), headers=bearer(read_only), params=params)
    assert_problem(delete, 403)
    assert (await client.get(url(kpi_id), headers=bearer(read_only))).status_code == 200
    assert len(await list_points(client, tenant, kpi_id)) == 1


async def test_same_kpi_key_in_two_orgs_keeps_points_apart(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_kpi(client, tenant, KPI)
    theirs = await create_kpi(client, other_tenant, KPI)
    assert (
        counts(await post_points(client, tenant, "ndjson", [point(KPI, 0, 1.0)]))["inserted"] == 1
    )
    their_points = [point(KPI, 0, 2.0), point(KPI, 1, 2.0)]
    assert counts(await post_points(client, other_tenant, "csv", their_points))["inserted"] == 2
    assert [item["value"] for item in await list_points(client, tenant, mine)] == [1.0]
    assert [item["value"] for item in await list_points(client, other_tenant, theirs)] == [2.0, 2.0]


async def test_another_orgs_kpi_points_are_invisible(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await seeded(client, other_tenant)
    params = {"from": ts(0), "to": ts(10)}
    assert_problem(await client.get(url(theirs), headers=tenant.headers), 404)
    export = await client.get(url(theirs), headers=tenant.headers, params={"format": "csv"})
    assert_problem(export, 404)
    assert_problem(await client.delete(url(theirs), headers=tenant.headers, params=params), 404)
    assert len(await list_points(client, other_tenant, theirs)) == 20


async def test_kpi_key_of_another_org_is_unknown(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_kpi(client, tenant, KPI)
    theirs = await create_kpi(client, other_tenant, "hr.headcount")
    sent = [point(KPI, 0, 1.0), point("hr.headcount", 0, 50.0)]
    for fmt in ("json", "ndjson", "csv"):
        body = assert_problem(await post_points(client, tenant, fmt, sent), 422)
        assert [loc[-1] for loc in error_locs(body)] == ["kpi"]
        assert "hr.headcount" in body["errors"][0]["message"]
    await assert_no_points(client, tenant, mine)
    await assert_no_points(client, other_tenant, theirs)
