"""The /v1/kpis resource: create, get, merge patch, delete, list; scopes and org isolation."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token, walk_pages

KPIS = "/v1/kpis"
TARGET = {"period_start": "2026-01-01", "period_end": "2026-03-31", "value": 100.0}


async def create_kpi(
    client: httpx.AsyncClient, tenant: Tenant, key: str = "sales.new_arr", **fields: Any
) -> dict[str, Any]:
    payload = {"key": key, "name": f"KPI {key}", **fields}
    response = await client.post(KPIS, headers=tenant.headers, json=payload)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def list_kpis(
    client: httpx.AsyncClient, tenant: Tenant, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(KPIS, headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def get_kpi(client: httpx.AsyncClient, tenant: Tenant, kpi_id: str) -> dict[str, Any]:
    response = await client.get(f"{KPIS}/{kpi_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    kpi: dict[str, Any] = response.json()
    return kpi


async def test_create_returns_201_location_and_defaults(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        KPIS, headers=tenant.headers, json={"key": "sales.new_arr", "name": "New ARR"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{KPIS}/{created['id']}"
    uuid.UUID(created["id"])
    assert created["key"] == "sales.new_arr"
    assert created["name"] == "New ARR"
    assert created["direction"] == "higher_is_better"
    assert created["aggregation"] == "sum"
    assert created["tags"] == []
    assert created["unit"] is None
    assert created["description"] is None
    assert created["created_at"]
    assert created["updated_at"]
    fetched = await client.get(response.headers["location"], headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_create_keeps_given_fields_and_dedupes_tags_in_order(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create_kpi(
        client,
        tenant,
        key="support.churn-rate",
        unit="%",
        description="Monthly churn",
        direction="lower_is_better",
        aggregation="avg",
        tags=["sales", "emea", "sales", " emea ", "apac"],
    )
    assert created["tags"] == ["sales", "emea", "apac"]
    assert (created["unit"], created["description"]) == ("%", "Monthly churn")
    assert (created["direction"], created["aggregation"]) == ("lower_is_better", "avg")
    assert (await get_kpi(client, tenant, created["id"]))["tags"] == ["sales", "emea", "apac"]


async def test_a_64_character_key_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await create_kpi(client, tenant, key="a" * 64)
    assert created["key"] == "a" * 64


@pytest.mark.parametrize(
    "key", ["Sales.arr", "_sales", "a" * 65, "new arr", "", "-lead", "sales/arr"]
)
async def test_invalid_key_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, key: str
) -> None:
    response = await client.post(KPIS, headers=tenant.headers, json={"key": key, "name": "X"})
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "key"]]
    assert await list_kpis(client, tenant) == []


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"key": "arr"}, ["body", "name"]),
        ({"name": "ARR"}, ["body", "key"]),
        ({"key": "arr", "name": "   "}, ["body", "name"]),
        ({"key": "arr", "name": "ARR", "colour": "red"}, ["body", "colour"]),
        ({"key": "arr", "name": "ARR", "direction": "sideways"}, ["body", "direction"]),
        ({"key": "arr", "name": "ARR", "aggregation": "median"}, ["body", "aggregation"]),
        ({"key": "arr", "name": "ARR", "tags": "sales"}, ["body", "tags"]),
        ({"key": "arr", "name": "ARR", "tags": ["ok", ""]}, ["body", "tags", 1]),
        ({"key": "arr", "name": "ARR", "unit": "u" * 33}, ["body", "unit"]),
    ],
)
async def test_invalid_create_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(KPIS, headers=tenant.headers, json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert loc in error_locs(body)
    assert await list_kpis(client, tenant) == []


async def test_duplicate_key_is_409_within_an_org_only(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await create_kpi(client, tenant, key="arr")
    again = await client.post(KPIS, headers=tenant.headers, json={"key": "arr", "name": "Other"})
    assert_problem(again, 409, "conflict")
    assert await list_kpis(client, tenant) == [first]
    # Keys are unique per org: another org may use the same one.
    theirs = await create_kpi(client, other_tenant, key="arr")
    assert theirs["id"] != first["id"]


async def test_concurrent_creates_with_one_key_give_one_201_and_one_409(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(KPIS, headers=tenant.headers, json={"key": "race", "name": f"R{n}"})
            for n in range(2)
        )
    )
    assert sorted(response.status_code for response in responses) == [201, 409]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "conflict")
    listed = await list_kpis(client, tenant)
    assert [kpi["key"] for kpi in listed] == ["race"]


async def test_patch_is_a_merge_patch(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await create_kpi(
        client, tenant, key="arr", unit="EUR", description="d", tags=["sales"]
    )
    url = f"{KPIS}/{created['id']}"
    renamed = await client.patch(url, headers=tenant.headers, json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    expected = {**created, "name": "Renamed", "updated_at": renamed.json()["updated_at"]}
    assert renamed.json() == expected
    assert renamed.json()["updated_at"] >= created["updated_at"]

    cleared = await client.patch(
        url, headers=tenant.headers, json={"unit": None, "tags": ["b", "a", "b"]}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["unit"] is None
    assert cleared.json()["tags"] == ["b", "a"]
    assert cleared.json()["description"] == "d"  # left out, so kept
    assert cleared.json()["name"] == "Renamed"
    assert await get_kpi(client, tenant, created["id"]) == cleared.json()


@pytest.mark.parametrize("field", ["key", "name", "direction", "aggregation", "tags"])
async def test_patch_null_on_a_required_field_is_422(
    client: httpx.AsyncClient, tenant: Tenant, field: str
) -> None:
    created = await create_kpi(client, tenant, key="arr")
    response = await client.patch(
        f"{KPIS}/{created['id']}", headers=tenant.headers, json={field: None}
    )
    body = assert_problem(response, 422, "validation-error")
    assert ["body", field] in error_locs(body)
    assert await get_kpi(client, tenant, created["id"]) == created


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"key": "Bad Key"}, ["body", "key"]),
        ({"name": ""}, ["body", "name"]),
        ({"colour": "red"}, ["body", "colour"]),
        ({"direction": "up"}, ["body", "direction"]),
    ],
)
async def test_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], loc: list[Any]
) -> None:
    created = await create_kpi(client, tenant, key="arr")
    response = await client.patch(f"{KPIS}/{created['id']}", headers=tenant.headers, json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert loc in error_locs(body)
    assert await get_kpi(client, tenant, created["id"]) == created


async def test_patch_to_another_kpis_key_is_409(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await create_kpi(client, tenant, key="arr")
    second = await create_kpi(client, tenant, key="mrr")
    url = f"{KPIS}/{second['id']}"
    clash = await client.patch(url, headers=tenant.headers, json={"key": "arr", "name": "New"})
    assert_problem(clash, 409, "conflict")
    assert await list_kpis(client, tenant) == [first, second]
    # Keeping its own key is no conflict.
    same = await client.patch(url, headers=tenant.headers, json={"key": "mrr"})
    assert same.status_code == 200, same.text


async def test_delete_then_get_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await create_kpi(client, tenant)
    url = f"{KPIS}/{created['id']}"
    deleted = await client.delete(url, headers=tenant.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(url, headers=tenant.headers), 404, "not-found")
    assert_problem(await client.delete(url, headers=tenant.headers), 404, "not-found")
    assert await list_kpis(client, tenant) == []


async def test_unknown_kpi_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    url = f"{KPIS}/{uuid.uuid4()}"
    assert_problem(await client.get(url, headers=tenant.headers), 404, "not-found")
    patched = await client.patch(url, headers=tenant.headers, json={"name": "x"})
    assert_problem(patched, 404, "not-found")
    assert_problem(await client.delete(url, headers=tenant.headers), 404, "not-found")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_malformed_id_is_422(client: httpx.AsyncClient, tenant: Tenant, method: str) -> None:
    kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
    response = await client.request(method, f"{KPIS}/not-a-uuid", headers=tenant.headers, **kwargs)
    body = assert_problem(response, 422, "validation-error")
    assert ["path", "kpi_id"] in error_locs(body)


async def test_delete_is_refused_while_a_key_result_reads_the_kpi(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await create_kpi(client, tenant)
    objective = await client.post(
        "/v1/objectives",
        headers=tenant.headers,
        json={"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
    )
    assert objective.status_code == 201, objective.text
    key_result = await client.post(
        f"/v1/objectives/{objective.json()['id']}/key-results",
        headers=tenant.headers,
        json={"title": "ARR", "direction": "at_least", "target_value": 100, "kpi_id": kpi["id"]},
    )
    assert key_result.status_code == 201, key_result.text

    refused = await client.delete(f"{KPIS}/{kpi['id']}", headers=tenant.headers)
    assert_problem(refused, 409, "conflict")
    assert await get_kpi(client, tenant, kpi["id"]) == kpi

    # Once the key result is gone, the KPI can go.
    gone = await client.delete(key_result.headers["location"], headers=tenant.headers)
    assert gone.status_code == 204
    assert (await client.delete(f"{KPIS}/{kpi['id']}", headers=tenant.headers)).status_code == 204


async def test_delete_removes_targets_and_objective_links(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await create_kpi(client, tenant)
    target = await client.post(f"{KPIS}/{kpi['id']}/targets", headers=tenant.headers, json=TARGET)
    assert target.status_code == 201, target.text
    objective = await client.post(
        "/v1/objectives",
        headers=tenant.headers,
        json={"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
    )
    assert objective.status_code == 201, objective.text
    links = f"/v1/objectives/{objective.json()['id']}/kpis"
    linked = await client.put(f"{links}/{kpi['id']}", headers=tenant.headers)
    assert linked.status_code == 201, linked.text
    before = (await client.get(links, headers=tenant.headers)).json()["items"]
    assert [link["kpi_id"] for link in before] == [kpi["id"]]

    assert (await client.delete(f"{KPIS}/{kpi['id']}", headers=tenant.headers)).status_code == 204
    assert_problem(await client.get(target.headers["location"], headers=tenant.headers), 404)
    after = await client.get(links, headers=tenant.headers)
    assert after.status_code == 200
    assert after.json()["items"] == []
    # The objective itself stays.
    assert (await client.get(objective.headers["location"], headers=tenant.headers)).is_success


async def test_pagination_walks_every_kpi_once_in_creation_order(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = [(await create_kpi(client, tenant, key=f"k{n}"))["id"] for n in range(5)]
    pages = await walk_pages(client, f"{KPIS}?limit=2", tenant.headers)
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [item["id"] for page in pages for item in page]
    assert seen == created


async def test_tag_filter(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a = await create_kpi(client, tenant, key="a", tags=["sales", "emea"])
    await create_kpi(client, tenant, key="b", tags=["hr"])
    c = await create_kpi(client, tenant, key="c", tags=["sales"])
    await create_kpi(client, tenant, key="d")
    assert [k["id"] for k in await list_kpis(client, tenant, tag="sales")] == [a["id"], c["id"]]
    assert [k["id"] for k in await list_kpis(client, tenant, tag="emea")] == [a["id"]]
    assert await list_kpis(client, tenant, tag="nowhere") == []
    # The filter holds across pages.
    first = await client.get(KPIS, headers=tenant.headers, params={"tag": "sales", "limit": 1})
    assert [k["id"] for k in first.json()["items"]] == [a["id"]]
    link = first.headers["link"]
    second = await client.get(link[1 : link.index(">")], headers=tenant.headers)
    assert [k["id"] for k in second.json()["items"]] == [c["id"]]
    assert second.json()["next_cursor"] is None


async def test_a_read_only_key_reads_but_cannot_write(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kpi = await create_kpi(client, tenant, key="arr")
    reader = bearer(await make_token(sessionmaker, tenant, Scope.READ))
    assert (await client.get(KPIS, headers=reader)).json()["items"] == [kpi]
    assert (await client.get(f"{KPIS}/{kpi['id']}", headers=reader)).json() == kpi

    url = f"{KPIS}/{kpi['id']}"
    writes = [
        client.post(KPIS, headers=reader, json={"key": "new", "name": "New"}),
        client.patch(url, headers=reader, json={"name": "Changed"}),
        client.delete(url, headers=reader),
        client.post(f"{url}/targets", headers=reader, json=TARGET),
    ]
    for write in writes:
        assert_problem(await write, 403, "forbidden")
    assert await list_kpis(client, tenant) == [kpi]
    assert (await client.get(f"{url}/targets", headers=tenant.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/v1/kpis/{kpi}", None),
        ("PATCH", "/v1/kpis/{kpi}", {"name": "Hijacked", "unit": None}),
        ("DELETE", "/v1/kpis/{kpi}", None),
        ("GET", "/v1/kpis/{kpi}/targets", None),
        (
            "POST",
            "/v1/kpis/{kpi}/targets",
            {"period_start": "2027-01-01", "period_end": "2027-01-31", "value": 1},
        ),
        ("GET", "/v1/kpi-targets/{target}", None),
        ("DELETE", "/v1/kpi-targets/{target}", None),
    ],
)
async def test_another_orgs_kpis_and_targets_are_404(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    path: str,
    payload: dict[str, Any] | None,
) -> None:
    theirs = await create_kpi(client, other_tenant, key="arr", unit="EUR")
    target = await client.post(
        f"{KPIS}/{theirs['id']}/targets", headers=other_tenant.headers, json=TARGET
    )
    assert target.status_code == 201, target.text
    url = path.format(kpi=theirs["id"], target=target.json()["id"])

    response = await client.request(method, url, headers=tenant.headers, json=payload)
    assert_problem(response, 404, "not-found")

    # Nothing changed on their side, nothing appeared on ours.
    assert await get_kpi(client, other_tenant, theirs["id"]) == theirs
    their_targets = await client.get(f"{KPIS}/{theirs['id']}/targets", headers=other_tenant.headers)
    assert their_targets.json()["items"] == [target.json()]
    assert await list_kpis(client, tenant) == []
