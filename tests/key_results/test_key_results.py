"""Key results: create per direction, the direction rules, KPI links, merge-patch, list, export."""

import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token, walk_pages

KR_FIELDS = [
    *("id", "objective_id", "title", "direction", "start_value", "target_value"),
    *("range_min", "range_max", "kpi_id", "unit", "weight", "created_at", "updated_at"),
]
INCREASE = {"title": "Grow ARR", "direction": "increase", "start_value": 10, "target_value": 20}


async def call(
    client: httpx.AsyncClient,
    tenant: Tenant,
    method: str,
    path: str,
    payload: dict[str, Any] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    response = await client.request(method, path, headers=tenant.headers, json=payload)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_objective(client: httpx.AsyncClient, tenant: Tenant, title: str = "Grow") -> str:
    payload = {"title": title, "start_date": "2026-01-01", "due_date": "2026-12-31"}
    return str((await call(client, tenant, "POST", "/v1/objectives", payload, 201))["id"])


async def make_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str = "sales.arr") -> str:
    payload = {"key": key, "name": key.upper()}
    return str((await call(client, tenant, "POST", "/v1/kpis", payload, 201))["id"])


async def post_kr(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, payload: dict[str, Any]
) -> httpx.Response:
    path = f"/v1/objectives/{objective_id}/key-results"
    return await client.post(path, headers=tenant.headers, json=payload)


async def make_kr(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    response = await post_kr(client, tenant, objective_id, payload)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def list_krs(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str
) -> list[dict[str, Any]]:
    page = await call(client, tenant, "GET", f"/v1/objectives/{objective_id}/key-results")
    items: list[dict[str, Any]] = page["items"]
    return items


async def get_kr(client: httpx.AsyncClient, tenant: Tenant, kr_id: str) -> dict[str, Any]:
    return await call(client, tenant, "GET", f"/v1/key-results/{kr_id}")


@pytest.mark.parametrize(
    "payload",
    [
        {"direction": "increase", "start_value": 0, "target_value": 100},
        {"direction": "decrease", "start_value": 30, "target_value": 5.5},
        {"direction": "at_least", "target_value": 95},
        {"direction": "at_most", "target_value": 2},
        {"direction": "within", "range_min": 1, "range_max": 3},
        {"direction": "within", "range_min": 4, "range_max": 4},
    ],
    ids=["increase", "decrease", "at_least", "at_most", "within", "within-equal"],
)
async def test_valid_create_for_each_direction(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any]
) -> None:
    objective_id = await make_objective(client, tenant)
    response = await post_kr(client, tenant, objective_id, {"title": "A key result", **payload})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/key-results/{created['id']}"
    assert set(KR_FIELDS) <= set(created)
    assert created["objective_id"] == objective_id
    assert created["weight"] == 1
    assert created["kpi_id"] is None
    for field, value in payload.items():
        assert created[field] == value
    assert await get_kr(client, tenant, created["id"]) == created
    assert [kr["id"] for kr in await list_krs(client, tenant, objective_id)] == [created["id"]]


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"direction": "increase", "target_value": 5}, "start_value"),
        ({"direction": "increase", "start_value": 5}, "target_value"),
        ({"direction": "decrease", "target_value": 5}, "start_value"),
        ({"direction": "decrease", "start_value": 5}, "target_value"),
        ({"direction": "increase", "start_value": 5, "target_value": 5}, "target_value"),
        ({"direction": "increase", "start_value": 5, "target_value": 4}, "target_value"),
        ({"direction": "decrease", "start_value": 5, "target_value": 5}, "target_value"),
        ({"direction": "decrease", "start_value": 5, "target_value": 6}, "target_value"),
        ({"direction": "at_least", "start_value": 5}, "target_value"),
        ({"direction": "at_most", "start_value": 5}, "target_value"),
        ({"direction": "within", "range_max": 5}, "range_min"),
        ({"direction": "within", "range_min": 5}, "range_max"),
        ({"direction": "within", "range_min": 5, "range_max": 4.9}, "range_max"),
    ],
)
async def test_direction_rules_are_422_and_write_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], loc: str
) -> None:
    objective_id = await make_objective(client, tenant)
    response = await post_kr(client, tenant, objective_id, {"title": "Bad", **payload})
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", loc]]
    assert await list_krs(client, tenant, objective_id) == []


@pytest.mark.parametrize(
    ("payload", "locs"),
    [
        (
            {"title": "T", "direction": "increase"},
            [["body", x] for x in ("start_value", "target_value")],
        ),
        ({"title": "T", "direction": "within"}, [["body", "range_min"], ["body", "range_max"]]),
        # What the create schema of each direction leaves out is refused, as it says.
        ({**INCREASE, "range_min": 1}, [["body", "range_min"]]),
        (
            {"title": "T", "direction": "at_most", "target_value": 3, "range_max": 5},
            [["body", "range_max"]],
        ),
        (
            {
                "title": "T",
                "direction": "within",
                "range_min": 1,
                "range_max": 2,
                "target_value": 2,
            },
            [["body", "target_value"]],
        ),
        ({**INCREASE, "weight": 0, "colour": "red"}, [["body", "colour"], ["body", "weight"]]),
        ({"direction": "up", "weight": 0}, [["body", x] for x in ("title", "direction", "weight")]),
    ],
)
async def test_every_problem_is_listed(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any], locs: list[list[str]]
) -> None:
    objective_id = await make_objective(client, tenant)
    response = await post_kr(client, tenant, objective_id, payload)
    body = assert_problem(response, 422, "validation-error")
    assert sorted(map(str, error_locs(body))) == sorted(map(str, locs))
    assert await list_krs(client, tenant, objective_id) == []


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"weight": 0}, ["body", "weight"]),
        ({"weight": -1}, ["body", "weight"]),
        ({"direction": "sideways"}, ["body", "direction"]),
        ({"colour": "red"}, ["body", "colour"]),
        ({"title": ""}, ["body", "title"]),
        ({"title": None}, ["body", "title"]),
        ({"unit": ""}, ["body", "unit"]),
        ({"start_value": "ten"}, ["body", "start_value"]),
        ({"kpi_id": "not-a-uuid"}, ["body", "kpi_id"]),
    ],
)
async def test_invalid_fields_are_422_and_write_nothing(
    client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], loc: list[str]
) -> None:
    objective_id = await make_objective(client, tenant)
    response = await post_kr(client, tenant, objective_id, {**INCREASE, **changes})
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [loc]
    assert await list_krs(client, tenant, objective_id) == []


@pytest.mark.parametrize("owner", ["nobody", "other org"])
async def test_kpi_that_is_not_the_orgs_is_422(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, owner: str
) -> None:
    objective_id = await make_objective(client, tenant)
    kpi_id = str(uuid.uuid4()) if owner == "nobody" else await make_kpi(client, other_tenant)
    response = await post_kr(client, tenant, objective_id, {**INCREASE, "kpi_id": kpi_id})
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "kpi_id"]]
    assert await list_krs(client, tenant, objective_id) == []


async def test_kpi_of_the_own_org_is_linked(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective_id = await make_objective(client, tenant)
    kpi_id = await make_kpi(client, tenant)
    created = await make_kr(client, tenant, objective_id, {**INCREASE, "kpi_id": kpi_id})
    assert created["kpi_id"] == kpi_id
    assert (await get_kr(client, tenant, created["id"]))["kpi_id"] == kpi_id


async def test_unknown_or_foreign_objective_is_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await make_objective(client, other_tenant)
    for objective_id in (str(uuid.uuid4()), theirs):
        path = f"/v1/objectives/{objective_id}/key-results"
        assert_problem(await client.post(path, headers=tenant.headers, json=INCREASE), 404)
        assert_problem(await client.get(path, headers=tenant.headers), 404)
    assert await list_krs(client, other_tenant, theirs) == []


async def test_patch_merges_and_keeps_the_rest(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective_id = await make_objective(client, tenant)
    kr = await make_kr(client, tenant, objective_id, {**INCREASE, "unit": "EUR"})
    response = await client.patch(
        f"/v1/key-results/{kr['id']}",
        headers=tenant.headers,
        json={"title": "Grow ARR faster", "target_value": 30, "unit": None, "weight": 2},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["title"] == "Grow ARR faster"
    assert (patched["target_value"], patched["unit"], patched["weight"]) == (30, None, 2)
    assert (patched["direction"], patched["start_value"]) == ("increase", 10)
    assert await get_kr(client, tenant, kr["id"]) == patched

    switched = await client.patch(
        f"/v1/key-results/{kr['id']}",
        headers=tenant.headers,
        json={"direction": "within", "range_min": 1, "range_max": 2},
    )
    assert switched.status_code == 200, switched.text
    assert (switched.json()["range_min"], switched.json()["range_max"]) == (1, 2)


@pytest.mark.parametrize(
    ("changes", "locs"),
    [
        ({"direction": "within"}, [["body", "range_min"], ["body", "range_max"]]),
        ({"target_value": 5}, [["body", "target_value"]]),
        ({"start_value": 20}, [["body", "target_value"]]),
        ({"direction": "decrease"}, [["body", "target_value"]]),
        ({"start_value": None}, [["body", "start_value"]]),
        ({"title": None}, [["body", "title"]]),
        ({"direction": None}, [["body", "direction"]]),
        ({"weight": None}, [["body", "weight"]]),
        ({"weight": 0}, [["body", "weight"]]),
        ({"kpi_id": str(uuid.UUID(int=1))}, [["body", "kpi_id"]]),
        ({"colour": "red"}, [["body", "colour"]]),
    ],
)
async def test_failing_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], locs: list[list[str]]
) -> None:
    objective_id = await make_objective(client, tenant)
    kr = await make_kr(client, tenant, objective_id, INCREASE)
    response = await client.patch(
        f"/v1/key-results/{kr['id']}", headers=tenant.headers, json=changes
    )
    body = assert_problem(response, 422, "validation-error")
    assert sorted(map(str, error_locs(body))) == sorted(map(str, locs))
    assert await get_kr(client, tenant, kr["id"]) == kr


async def test_patch_kpi_link_to_another_org_is_422_and_null_unlinks(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    objective_id = await make_objective(client, tenant)
    mine = await make_kpi(client, tenant)
    theirs = await make_kpi(client, other_tenant)
    kr = await make_kr(client, tenant, objective_id, {**INCREASE, "kpi_id": mine})
    path = f"/v1/key-results/{kr['id']}"

    response = await client.patch(path, headers=tenant.headers, json={"kpi_id": theirs})
    assert error_locs(assert_problem(response, 422, "validation-error")) == [["body", "kpi_id"]]
    assert await get_kr(client, tenant, kr["id"]) == kr

    unlinked = await client.patch(path, headers=tenant.headers, json={"kpi_id": None})
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["kpi_id"] is None
    assert (await get_kr(client, tenant, kr["id"]))["kpi_id"] is None


async def test_list_is_in_creation_order_and_paginates(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    objective_id = await make_objective(client, tenant)
    other_objective = await make_objective(client, tenant, "Elsewhere")
    await make_kr(client, tenant, other_objective, INCREASE)
    titles = ["Zeta", "Alpha", "Mu", "Beta", "Omega"]
    created = [
        (await make_kr(client, tenant, objective_id, {**INCREASE, "title": title}))["id"]
        for title in titles
    ]
    assert [kr["id"] for kr in await list_krs(client, tenant, objective_id)] == created

    url = f"/v1/objectives/{objective_id}/key-results?limit=2"
    pages = await walk_pages(client, url, tenant.headers)
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [item["id"] for page in pages for item in page]
    assert seen == created


async def test_csv_and_ndjson_exports(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective_id = await make_objective(client, tenant)
    kpi_id = await make_kpi(client, tenant)
    first = await make_kr(client, tenant, objective_id, {**INCREASE, "kpi_id": kpi_id})
    second = await make_kr(
        client,
        tenant,
        objective_id,
        {"title": "Latency", "direction": "at_most", "target_value": 2},
    )
    path = f"/v1/objectives/{objective_id}/key-results"

    response = await client.get(path, headers=tenant.headers, params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert set(KR_FIELDS) <= set(rows[0])
    assert len(rows) == 3
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert [record["id"] for record in records] == [first["id"], second["id"]]
    assert records[0]["kpi_id"] == kpi_id
    assert records[1]["direction"] == "at_most"
    assert float(records[1]["target_value"]) == 2

    response = await client.get(path, headers=tenant.headers, params={"format": "ndjson"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [first, second]


async def test_delete_removes_the_key_result_and_its_check_ins(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    objective_id = await make_objective(client, tenant)
    kr = await make_kr(client, tenant, objective_id, INCREASE)
    kept = await make_kr(client, tenant, objective_id, {**INCREASE, "title": "Kept"})
    check_in = await client.post(
        f"/v1/key-results/{kr['id']}/check-ins", headers=tenant.headers, json={"value": 12}
    )
    assert check_in.status_code == 201, check_in.text

    deleted = await client.delete(f"/v1/key-results/{kr['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(f"/v1/key-results/{kr['id']}", headers=tenant.headers), 404)
    gone = await client.get(check_in.headers["location"], headers=tenant.headers)
    assert_problem(gone, 404)
    again = await client.delete(f"/v1/key-results/{kr['id']}", headers=tenant.headers)
    assert_problem(again, 404)
    assert [item["id"] for item in await list_krs(client, tenant, objective_id)] == [kept["id"]]


async def test_read_only_key_reads_but_cannot_write(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    objective_id = await make_objective(client, tenant)
    kr = await make_kr(client, tenant, objective_id, INCREASE)
    reader = bearer(await make_token(sessionmaker, tenant, Scope.READ))

    assert (await client.get(f"/v1/key-results/{kr['id']}", headers=reader)).json() == kr
    listed = await client.get(f"/v1/objectives/{objective_id}/key-results", headers=reader)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [kr["id"]]

    path = f"/v1/objectives/{objective_id}/key-results"
    assert_problem(await client.post(path, headers=reader, json=INCREASE), 403, "forbidden")
    patch = await client.patch(f"/v1/key-results/{kr['id']}", headers=reader, json={"weight": 3})
    assert_problem(patch, 403, "forbidden")
    delete = await client.delete(f"/v1/key-results/{kr['id']}", headers=reader)
    assert_problem(delete, 403, "forbidden")
    assert await list_krs(client, tenant, objective_id) == [kr]


async def test_malformed_key_result_id_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/key-results/not-a-uuid", headers=tenant.headers)
    assert error_locs(assert_problem(response, 422)) == [["path", "key_result_id"]]
