"""Objective-KPI links: PUT (idempotent, optional weight), list, DELETE."""

import uuid
from typing import Any

import httpx
import pytest

from tests.objectives.test_objectives import OBJECTIVES, create_kpi, create_objective
from tests.support import Tenant, assert_problem, error_locs


def link_url(objective_id: str, kpi_id: str) -> str:
    return f"{OBJECTIVES}/{objective_id}/kpis/{kpi_id}"


async def links(client: httpx.AsyncClient, tenant: Tenant, objective_id: str) -> list[Any]:
    response = await client.get(f"{OBJECTIVES}/{objective_id}/kpis", headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_put_creates_then_reweights(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "sales.new_arr")
    url = link_url(objective["id"], kpi["id"])

    created = await client.put(url, headers=tenant.headers)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["objective_id"] == objective["id"]
    assert link["kpi_id"] == kpi["id"]
    assert link["weight"] == 1
    assert (link["kpi_key"], link["kpi_name"]) == (kpi["key"], kpi["name"])

    reweighted = await client.put(url, headers=tenant.headers, json={"weight": 2})
    assert reweighted.status_code == 200, reweighted.text
    assert reweighted.json()["weight"] == 2
    assert reweighted.json()["created_at"] == link["created_at"]
    assert reweighted.json()["updated_at"] >= link["updated_at"]

    assert await links(client, tenant, objective["id"]) == [reweighted.json()]


async def test_put_again_without_body_is_200(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "nps")
    url = link_url(objective["id"], kpi["id"])
    first = await client.put(url, headers=tenant.headers, json={"weight": 3})
    assert first.status_code == 201, first.text
    again = await client.put(url, headers=tenant.headers)
    assert again.status_code == 200, again.text
    assert again.json()["created_at"] == first.json()["created_at"]
    assert len(await links(client, tenant, objective["id"])) == 1


async def test_list_shows_every_link_in_creation_order(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    objective = await create_objective(client, tenant)
    other = await create_objective(client, tenant)
    kpis = [await create_kpi(client, tenant, key) for key in ("arr", "churn", "nps")]
    for weight, kpi in enumerate(kpis, start=1):
        response = await client.put(
            link_url(objective["id"], kpi["id"]), headers=tenant.headers, json={"weight": weight}
        )
        assert response.status_code == 201, response.text
    listed = await links(client, tenant, objective["id"])
    assert [(link["kpi_key"], link["weight"]) for link in listed] == [
        ("arr", 1),
        ("churn", 2),
        ("nps", 3),
    ]
    assert {link["objective_id"] for link in listed} == {objective["id"]}
    assert await links(client, tenant, other["id"]) == []

    first_page = await client.get(
        f"{OBJECTIVES}/{objective['id']}/kpis", headers=tenant.headers, params={"limit": 2}
    )
    assert len(first_page.json()["items"]) == 2
    rest = await client.get(
        f"{OBJECTIVES}/{objective['id']}/kpis",
        headers=tenant.headers,
        params={"limit": 2, "cursor": first_page.json()["next_cursor"]},
    )
    assert rest.json()["items"] == listed[2:]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"weight": 0}, ["body", "weight"]),
        ({"weight": -1}, ["body", "weight"]),
        ({"weight": "heavy"}, ["body", "weight"]),
        ({"weight": 2, "colour": "red"}, ["body", "colour"]),
    ],
)
async def test_invalid_body_is_422_and_links_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, object], loc: list[object]
) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "arr")
    response = await client.put(
        link_url(objective["id"], kpi["id"]), headers=tenant.headers, json=payload
    )
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [loc]
    assert await links(client, tenant, objective["id"]) == []


async def test_invalid_body_leaves_an_existing_link_alone(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "arr")
    url = link_url(objective["id"], kpi["id"])
    link = (await client.put(url, headers=tenant.headers, json={"weight": 4})).json()
    assert_problem(await client.put(url, headers=tenant.headers, json={"weight": 0}), 422)
    assert await links(client, tenant, objective["id"]) == [link]


async def test_wrong_content_type_is_415(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "arr")
    response = await client.put(
        link_url(objective["id"], kpi["id"]),
        headers={**tenant.headers, "Content-Type": "text/plain"},
        content=b'{"weight": 2}',
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert await links(client, tenant, objective["id"]) == []


async def test_unknown_or_foreign_kpi_is_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    objective = await create_objective(client, tenant)
    theirs = await create_kpi(client, other_tenant, "arr")
    for kpi_id in (str(uuid.uuid4()), theirs["id"]):
        response = await client.put(link_url(objective["id"], kpi_id), headers=tenant.headers)
        assert_problem(response, 404, "not-found")
    assert await links(client, tenant, objective["id"]) == []
    # Their KPI is still there, unlinked and unchanged.
    fetched = await client.get(f"/v1/kpis/{theirs['id']}", headers=other_tenant.headers)
    assert fetched.json() == theirs


async def test_unknown_objective_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await create_kpi(client, tenant, "arr")
    missing = str(uuid.uuid4())
    assert_problem(await client.put(link_url(missing, kpi["id"]), headers=tenant.headers), 404)
    assert_problem(await client.delete(link_url(missing, kpi["id"]), headers=tenant.headers), 404)
    listed = await client.get(f"{OBJECTIVES}/{missing}/kpis", headers=tenant.headers)
    assert_problem(listed, 404, "not-found")


async def test_delete_unlinks_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await create_objective(client, tenant)
    kept_kpi, gone_kpi = [await create_kpi(client, tenant, key) for key in ("arr", "nps")]
    for kpi in (kept_kpi, gone_kpi):
        linked = await client.put(link_url(objective["id"], kpi["id"]), headers=tenant.headers)
        assert linked.status_code == 201
    url = link_url(objective["id"], gone_kpi["id"])

    deleted = await client.delete(url, headers=tenant.headers)
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert [link["kpi_id"] for link in await links(client, tenant, objective["id"])] == [
        kept_kpi["id"]
    ]
    assert_problem(await client.delete(url, headers=tenant.headers), 404, "not-found")
    # Unlinking removes the link only: the KPI and the objective remain.
    kpi_response = await client.get(f"/v1/kpis/{gone_kpi['id']}", headers=tenant.headers)
    assert kpi_response.status_code == 200
    assert (await client.get(f"{OBJECTIVES}/{objective['id']}", headers=tenant.headers)).json() == (
        objective
    )


async def test_deleting_a_kpi_removes_its_links(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await create_objective(client, tenant)
    kpi = await create_kpi(client, tenant, "arr")
    linked = await client.put(link_url(objective["id"], kpi["id"]), headers=tenant.headers)
    assert linked.status_code == 201
    assert (await client.delete(f"/v1/kpis/{kpi['id']}", headers=tenant.headers)).status_code == 204
    assert await links(client, tenant, objective["id"]) == []
