"""The /v1/objectives resource: create, get, merge patch, delete, list filters, exports."""

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from perfapi.models import ObjectiveKpi
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token, walk_pages

OBJECTIVES = "/v1/objectives"
MISSING = object()  # a field left out of the body
KEY_RESULT = {"title": "Ship", "direction": "at_least", "target_value": 1}


def objective_body(**fields: object) -> dict[str, object]:
    body = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-03-31", **fields}
    return {name: value for name, value in body.items() if value is not MISSING}


async def post_created(
    client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, object]
) -> dict[str, Any]:
    response = await client.post(path, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_objective(
    client: httpx.AsyncClient, tenant: Tenant, **fields: object
) -> dict[str, Any]:
    return await post_created(client, tenant, OBJECTIVES, objective_body(**fields))


async def create_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str) -> dict[str, Any]:
    return await post_created(client, tenant, "/v1/kpis", {"key": key, "name": key.title()})


async def add_key_result(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str
) -> dict[str, Any]:
    return await post_created(
        client, tenant, f"{OBJECTIVES}/{objective_id}/key-results", KEY_RESULT
    )


async def get_json(client: httpx.AsyncClient, who: Tenant | dict[str, str], path: str) -> Any:
    headers = who.headers if isinstance(who, Tenant) else who
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def list_ids(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[str]:
    response = await client.get(OBJECTIVES, headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_create_returns_201_location_and_defaults(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(OBJECTIVES, headers=tenant.headers, json=objective_body())
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{OBJECTIVES}/{created['id']}"
    defaults = {"weight": 1, "status": "active", "parent_id": None, "key": None, "owner": None}
    assert {name: created[name] for name in defaults} == defaults
    assert (created["start_date"], created["due_date"]) == ("2026-01-01", "2026-03-31")
    assert await get_json(client, tenant, response.headers["location"]) == created


@pytest.mark.parametrize(
    ("fields", "locs"),
    [
        ({"due_date": "2025-12-31"}, ["due_date"]),
        ({"parent_id": str(uuid.uuid4())}, ["parent_id"]),
        ({"due_date": "2025-12-31", "parent_id": str(uuid.uuid4())}, ["due_date", "parent_id"]),
        ({"weight": 0}, ["weight"]),
        ({"weight": -1}, ["weight"]),
        ({"status": "done"}, ["status"]),
        ({"colour": "red"}, ["colour"]),
        ({"title": MISSING}, ["title"]),
        ({"title": "   "}, ["title"]),
        ({"title": MISSING, "weight": 0, "extra": 1}, ["extra", "title", "weight"]),
        ({"start_date": "2026-02-30"}, ["start_date"]),
        ({"key": "no spaces"}, ["key"]),
    ],
)
async def test_invalid_create_is_422_listing_every_problem_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, fields: dict[str, object], locs: list[str]
) -> None:
    response = await client.post(OBJECTIVES, headers=tenant.headers, json=objective_body(**fields))
    body = assert_problem(response, 422, "validation-error")
    assert sorted(map(str, error_locs(body))) == [str(["body", field]) for field in locs]
    assert await list_ids(client, tenant) == []


async def test_parent_in_another_org_is_422_exactly_as_if_missing(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_objective(client, other_tenant)
    answers = []
    for parent_id in (theirs["id"], str(uuid.uuid4())):
        payload = objective_body(parent_id=parent_id)
        response = await client.post(OBJECTIVES, headers=tenant.headers, json=payload)
        body = assert_problem(response, 422, "validation-error")
        assert error_locs(body) == [["body", "parent_id"]]
        answers.append((body["detail"], body["errors"]))
    assert answers[0] == answers[1]
    assert await list_ids(client, tenant) == []
    assert await list_ids(client, other_tenant) == [theirs["id"]]


async def test_key_is_unique_per_org(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await create_objective(client, tenant, key="2026-growth")
    again = await client.post(
        OBJECTIVES, headers=tenant.headers, json=objective_body(key=first["key"])
    )
    assert_problem(again, 409, "conflict")
    assert await list_ids(client, tenant) == [first["id"]]
    theirs = await create_objective(client, other_tenant, key="2026-growth")
    assert theirs["key"] == "2026-growth"
    # Renaming to a taken key is a conflict too, and changes nothing.
    other = await create_objective(client, tenant, key="free")
    url = f"{OBJECTIVES}/{other['id']}"
    assert_problem(await client.patch(url, headers=tenant.headers, json={"key": first["key"]}), 409)
    assert await get_json(client, tenant, url) == other


async def test_concurrent_creates_with_one_key_are_one_201_and_one_409(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    payload = objective_body(key="race")
    responses = await asyncio.gather(
        *(client.post(OBJECTIVES, headers=tenant.headers, json=payload) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "conflict")
    winner = next(r for r in responses if r.status_code == 201).json()
    assert await list_ids(client, tenant) == [winner["id"]]


async def test_patch_merges_and_null_clears(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await create_objective(
        client, tenant, owner="ann", team="sales", description="why", key="q1"
    )
    url = f"{OBJECTIVES}/{created['id']}"
    response = await client.patch(
        url, headers=tenant.headers, json={"title": "Grow more", "owner": None}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["title"] == "Grow more"
    assert patched["owner"] is None
    for field in ("team", "description", "key", "start_date", "due_date", "weight", "status"):
        assert patched[field] == created[field], field
    assert await get_json(client, tenant, url) == patched


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"title": None}, ["body", "title"]),
        ({"start_date": None}, ["body", "start_date"]),
        ({"status": None}, ["body", "status"]),
        ({"start_date": "2026-04-01"}, ["body", "due_date"]),  # past the stored due_date
        ({"due_date": "2025-12-31"}, ["body", "due_date"]),  # before the stored start_date
        ({"weight": 0}, ["body", "weight"]),
        ({"parent_id": str(uuid.uuid4())}, ["body", "parent_id"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
async def test_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, patch: dict[str, object], loc: list[object]
) -> None:
    created = await create_objective(client, tenant, owner="ann")
    url = f"{OBJECTIVES}/{created['id']}"
    body = assert_problem(await client.patch(url, headers=tenant.headers, json=patch), 422)
    assert error_locs(body) == [loc]
    assert await get_json(client, tenant, url) == created


async def test_delete_leaf_and_refuse_parent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    parent = await create_objective(client, tenant)
    child = await create_objective(client, tenant, parent_id=parent["id"])
    refused = await client.delete(f"{OBJECTIVES}/{parent['id']}", headers=tenant.headers)
    assert_problem(refused, 409, "conflict")
    for objective in (parent, child):
        assert await get_json(client, tenant, f"{OBJECTIVES}/{objective['id']}") == objective
    deleted = await client.delete(f"{OBJECTIVES}/{child['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(f"{OBJECTIVES}/{child['id']}", headers=tenant.headers), 404)
    assert await list_ids(client, tenant) == [parent["id"]]
    # Without its child, the parent is a leaf and can go.
    gone = await client.delete(f"{OBJECTIVES}/{parent['id']}", headers=tenant.headers)
    assert gone.status_code == 204
    assert await list_ids(client, tenant) == []


async def test_delete_removes_key_results_check_ins_and_links(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    gone, kept = [await create_objective(client, tenant) for _ in range(2)]
    kpi = await create_kpi(client, tenant, "revenue")
    children: dict[str, list[str]] = {}
    for objective in (gone, kept):
        key_result = (
            f"/v1/key-results/{(await add_key_result(client, tenant, objective['id']))['id']}"
        )
        check_in = await post_created(client, tenant, f"{key_result}/check-ins", {"value": 1})
        link = await client.put(
            f"{OBJECTIVES}/{objective['id']}/kpis/{kpi['id']}", headers=tenant.headers
        )
        assert link.status_code == 201, link.text
        children[objective["id"]] = [key_result, f"/v1/check-ins/{check_in['id']}"]

    response = await client.delete(f"{OBJECTIVES}/{gone['id']}", headers=tenant.headers)
    assert response.status_code == 204, response.text

    for path in [*children[gone["id"]], f"{OBJECTIVES}/{gone['id']}/kpis"]:
        assert_problem(await client.get(path, headers=tenant.headers), 404, "not-found")
    async with sessionmaker() as session:  # no API lists links by KPI
        links_left = await session.scalar(
            select(func.count())
            .select_from(ObjectiveKpi)
            .where(ObjectiveKpi.objective_id == uuid.UUID(gone["id"]))
        )
    assert links_left == 0
    # The other objective, its key result, check-in and link, and the KPI are untouched.
    for path in children[kept["id"]]:
        await get_json(client, tenant, path)
    kept_links = await get_json(client, tenant, f"{OBJECTIVES}/{kept['id']}/kpis")
    assert [link["kpi_id"] for link in kept_links["items"]] == [kpi["id"]]
    assert await get_json(client, tenant, f"/v1/kpis/{kpi['id']}") == kpi


@pytest.fixture
async def tree(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """A(root) with children B and C; D another root. Names map to ids."""
    ids: dict[str, str] = {}
    for name, parent, fields in [
        ("A", None, {"team": "sales", "owner": "ann", "due_date": "2026-03-31"}),
        ("B", "A", {"team": "eng", "owner": "bob", "status": "closed", "due_date": "2026-06-30"}),
        ("C", "A", {"status": "draft", "due_date": "2026-01-31"}),
        ("D", None, {"status": "cancelled", "due_date": "2026-12-31"}),
    ]:
        parent_id = ids[parent] if parent else None
        ids[name] = (await create_objective(client, tenant, parent_id=parent_id, **fields))["id"]
    return ids


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "ABCD"),
        ({"parent_id": "A"}, "BC"),
        ({"parent_id": "B"}, ""),
        ({"parent_id": "null"}, "AD"),
        ({"status": ["active", "closed"]}, "AB"),
        ({"status": "draft"}, "C"),
        ({"team": "eng"}, "B"),
        ({"owner": "ann"}, "A"),
        ({"due_from": "2026-03-31", "due_to": "2026-06-30"}, "AB"),
        ({"due_from": "2026-06-30"}, "BD"),
        ({"due_to": "2026-01-31"}, "C"),
        ({"due_from": "2026-03-31", "due_to": "2026-03-31"}, "A"),
        ({"parent_id": "A", "status": "closed"}, "B"),
    ],
)
async def test_list_filters(
    client: httpx.AsyncClient,
    tenant: Tenant,
    tree: dict[str, str],
    params: dict[str, Any],
    expected: str,
) -> None:
    query = {
        name: tree[value] if name == "parent_id" and value in tree else value
        for name, value in params.items()
    }
    assert await list_ids(client, tenant, **query) == [tree[name] for name in expected]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"due_from": "2026-07-01", "due_to": "2026-06-30"}, ["query", "due_to"]),
        ({"parent_id": "garbage"}, ["query", "parent_id"]),
        # Only the hyphenated form the document's pattern states, not every form UUID() reads.
        ({"parent_id": uuid.uuid4().hex}, ["query", "parent_id"]),
        ({"parent_id": f"{{{uuid.uuid4()}}}"}, ["query", "parent_id"]),
        ({"status": "done"}, ["query", "status", 0]),
        ({"due_from": "tomorrow"}, ["query", "due_from"]),
        ({"format": "xml"}, ["query", "format"]),
    ],
)
async def test_bad_list_filter_is_422(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], loc: list[object]
) -> None:
    body = assert_problem(await client.get(OBJECTIVES, headers=tenant.headers, params=params), 422)
    assert error_locs(body) == [loc]


async def test_pagination_walks_filtered_rows_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    active = [(await create_objective(client, tenant, title=f"o{n}"))["id"] for n in range(5)]
    await create_objective(client, tenant, status="closed")
    pages = await walk_pages(client, f"{OBJECTIVES}?status=active&limit=2", tenant.headers)
    assert all(len(page) <= 2 for page in pages)
    seen = [item["id"] for page in pages for item in page]
    assert seen == active  # creation order, each once, closed one filtered out


def parse_csv(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


def parse_ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("export_format", "media_type", "parse"),
    [("csv", "text/csv", parse_csv), ("ndjson", "application/x-ndjson", parse_ndjson)],
)
async def test_exports_list_every_matching_row(
    client: httpx.AsyncClient,
    tenant: Tenant,
    export_format: str,
    media_type: str,
    parse: Callable[[str], list[dict[str, Any]]],
) -> None:
    sales = [(await create_objective(client, tenant, team="sales"))["id"] for _ in range(3)]
    await create_objective(client, tenant, team="eng")
    params = {"team": "sales", "limit": "1", "format": export_format}  # no pagination
    response = await client.get(OBJECTIVES, headers=tenant.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    rows = parse(response.text)
    assert [row["id"] for row in rows] == sales
    assert {row["team"] for row in rows} == {"sales"}
    assert {row["status"] for row in rows} == {"active"}
    assert set(rows[0]) >= {"parent_id", "start_date", "due_date", "weight", "key"}


async def test_read_only_key_reads_but_cannot_write(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await create_objective(client, tenant)
    url = f"{OBJECTIVES}/{created['id']}"
    reader = bearer(await make_token(sessionmaker, tenant, Scope.READ))
    assert (await get_json(client, reader, OBJECTIVES))["items"] == [created]
    assert await get_json(client, reader, url) == created

    assert_problem(await client.post(OBJECTIVES, headers=reader, json=objective_body()), 403)
    assert_problem(await client.patch(url, headers=reader, json={"title": "x"}), 403, "forbidden")
    assert_problem(await client.delete(url, headers=reader), 403, "forbidden")
    assert await list_ids(client, tenant) == [created["id"]]
    assert await get_json(client, tenant, url) == created


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/v1/objectives/{objective}", None),
        ("PATCH", "/v1/objectives/{objective}", {"title": "Mine now"}),
        ("PATCH", "/v1/objectives/{objective}", {"parent_id": None}),
        ("DELETE", "/v1/objectives/{objective}", None),
        ("GET", "/v1/objectives/{objective}/key-results", None),
        ("POST", "/v1/objectives/{objective}/key-results", KEY_RESULT),
        ("GET", "/v1/objectives/{objective}/kpis", None),
        ("PUT", "/v1/objectives/{objective}/kpis/{kpi}", {"weight": 5}),
        ("DELETE", "/v1/objectives/{objective}/kpis/{kpi}", None),
    ],
)
async def test_another_orgs_objectives_are_404_and_untouched(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    path: str,
    payload: dict[str, object] | None,
) -> None:
    parent = await create_objective(client, other_tenant)
    theirs = await create_objective(client, other_tenant, parent_id=parent["id"])
    kpi = await create_kpi(client, other_tenant, "churn")
    base = f"{OBJECTIVES}/{theirs['id']}"
    link = await client.put(f"{base}/kpis/{kpi['id']}", headers=other_tenant.headers)
    assert link.status_code == 201
    key_result = await add_key_result(client, other_tenant, theirs["id"])
    theirs = await get_json(client, other_tenant, base)  # now with its key result's progress

    url = path.format(objective=theirs["id"], kpi=kpi["id"])
    response = await client.request(method, url, headers=tenant.headers, json=payload)
    assert_problem(response, 404, "not-found")

    assert await get_json(client, other_tenant, base) == theirs
    key_results = await get_json(client, other_tenant, f"{base}/key-results")
    assert key_results["items"] == [key_result]
    assert (await get_json(client, other_tenant, f"{base}/kpis"))["items"] == [link.json()]
    assert await list_ids(client, tenant) == []
