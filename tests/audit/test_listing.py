"""``GET /v1/audit-events``: filters, pagination, exports, tags, scope, other orgs."""

import csv
import io
import json
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.audit.helpers import AUDIT, entries, key_id_of
from tests.support import Tenant, assert_problem, bearer, created, make_token, walk_pages

GOAL = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}


async def _history(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """Writes on two KPIs and an objective: eight entries."""
    first = await created(client, tenant, "/v1/kpis", {"key": "a", "name": "A"})
    second = await created(client, tenant, "/v1/kpis", {"key": "b", "name": "B"})
    objective = await created(client, tenant, "/v1/objectives", GOAL)
    for name in ("A1", "A2", "A3"):
        response = await client.patch(
            f"/v1/kpis/{first}", headers=tenant.headers, json={"name": name}
        )
        assert response.status_code == 200
    await client.patch(f"/v1/objectives/{objective}", headers=tenant.headers, json={"title": "G"})
    await client.delete(f"/v1/kpis/{second}", headers=tenant.headers)
    return {"first": first, "second": second, "objective": objective}


async def test_newest_first_with_every_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await _history(client, tenant)
    listed = await entries(client, tenant)
    assert [(e["action"], e["resource"]["id"]) for e in listed] == [
        ("kpi.deleted", made["second"]),
        ("objective.updated", made["objective"]),
        ("kpi.updated", made["first"]),
        ("kpi.updated", made["first"]),
        ("kpi.updated", made["first"]),
        ("objective.created", made["objective"]),
        ("kpi.created", made["second"]),
        ("kpi.created", made["first"]),
    ]
    assert [e["changes"]["name"] for e in listed[2:5]] == [["A2", "A3"], ["A1", "A2"], ["A", "A1"]]
    times = [e["at"] for e in listed]
    assert times == sorted(times, reverse=True)


async def test_filters_by_resource(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await _history(client, tenant)
    kpis = await entries(client, tenant, "&resource_type=kpi")
    assert len(kpis) == 6
    assert {e["resource"]["type"] for e in kpis} == {"kpi"}
    first = await entries(client, tenant, f"&resource_id={made['first']}")
    assert [e["action"] for e in first] == ["kpi.updated"] * 3 + ["kpi.created"]
    both = await entries(client, tenant, f"&resource_type=objective&resource_id={made['first']}")
    assert both == []


async def test_filters_by_actor(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    writer = await make_token(sessionmaker, tenant, Scope.WRITE)
    await created(client, tenant, "/v1/kpis", {"key": "mine", "name": "M"})
    theirs = await client.post(
        "/v1/kpis", headers=bearer(writer), json={"key": "theirs", "name": "T"}
    )
    assert theirs.status_code == 201
    writer_id = await key_id_of(client, tenant, writer)
    by_writer = await entries(client, tenant, f"&actor_id={writer_id}")
    assert [e["changes"]["key"][1] for e in by_writer] == ["theirs"]
    by_admin = await entries(client, tenant, f"&actor_id={await key_id_of(client, tenant)}")
    assert [e["changes"]["key"][1] for e in by_admin] == ["mine"]
    assert await entries(client, tenant, "&actor_id=cli") == []


async def test_filters_by_time_from_inclusive_to_exclusive(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _history(client, tenant)
    listed = await entries(client, tenant)
    middle = listed[3]["at"]
    since = await entries(client, tenant, f"&from={quote(middle)}")
    assert since == listed[:4]
    before = await entries(client, tenant, f"&to={quote(middle)}")
    assert before == listed[4:]
    window = await entries(client, tenant, f"&from={quote(listed[5]['at'])}&to={quote(middle)}")
    assert window == listed[4:6]
    assert await entries(client, tenant, "&from=2999-01-01") == []
    assert await entries(client, tenant, "&to=2000-01-01") == []


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("resource_type=objectives", ["query", "resource_type"]),
        ("resource_id=not-a-uuid", ["query", "resource_id"]),
        ("actor_id=", ["query", "actor_id"]),
        ("from=yesterday", ["query", "from"]),
        ("to=2026-01-01T00:00:00", ["query", "to"]),
        ("from=2026-02-01&to=2026-01-01", ["query", "to"]),
        ("limit=501", ["query", "limit"]),
        ("cursor=garbage", ["query", "cursor"]),
        ("format=xml", ["query", "format"]),
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, tenant: Tenant, query: str, loc: list[str]
) -> None:
    body = assert_problem(await client.get(f"{AUDIT}?{query}", headers=tenant.headers), 422)
    assert loc in [error["loc"] for error in body["errors"]]


async def test_pages_walk_every_entry_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await _history(client, tenant)
    pages = await walk_pages(client, f"{AUDIT}?limit=3", tenant.headers)
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [e for page in pages for e in page] == await entries(client, tenant)
    filtered = await walk_pages(client, f"{AUDIT}?limit=2&resource_type=kpi", tenant.headers)
    assert [len(page) for page in filtered] == [2, 2, 2]


async def test_exports_every_entry_as_csv(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await _history(client, tenant)
    listed = await entries(client, tenant)
    response = await client.get(f"{AUDIT}?format=csv&limit=1", headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="audit-events.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id",
        "at",
        "actor.type",
        "actor.id",
        "action",
        "resource.type",
        "resource.id",
        "changes",
        "request_id",
    ]
    assert len(rows) == len(listed) == 8
    for row, entry in zip(rows, listed, strict=True):
        assert row["id"] == entry["id"]
        assert row["at"] == entry["at"]
        assert (row["actor.type"], row["actor.id"]) == (
            entry["actor"]["type"],
            entry["actor"]["id"],
        )
        assert (row["resource.type"], row["resource.id"]) == (
            entry["resource"]["type"],
            entry["resource"]["id"],
        )
        assert json.loads(row["changes"]) == entry["changes"]
        assert row["request_id"] == entry["request_id"]


async def test_exports_filtered_entries_as_ndjson(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await _history(client, tenant)
    response = await client.get(
        f"{AUDIT}?resource_id={made['first']}",
        headers={**tenant.headers, "Accept": "application/x-ndjson"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == await entries(client, tenant, f"&resource_id={made['first']}")


async def test_another_orgs_entries_never_appear(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await created(client, tenant, "/v1/kpis", {"key": "k", "name": "Ours"})
    theirs = await created(client, other_tenant, "/v1/kpis", {"key": "k", "name": "Theirs"})
    await client.patch(f"/v1/kpis/{theirs}", headers=other_tenant.headers, json={"name": "T2"})
    assert [e["resource"]["id"] for e in await entries(client, tenant)] == [ours]
    assert await entries(client, tenant, f"&resource_id={theirs}") == []
    their_key = await key_id_of(client, other_tenant)
    assert await entries(client, tenant, f"&actor_id={their_key}") == []
    exported = await client.get(f"{AUDIT}?format=ndjson", headers=tenant.headers)
    assert theirs not in exported.text
    assert "Theirs" not in exported.text
    assert len(await entries(client, other_tenant)) == 2


async def test_needs_the_admin_scope(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await make_token(sessionmaker, tenant, Scope.READ, Scope.WRITE, Scope.INGEST)
    assert_problem(await client.get(AUDIT, headers=bearer(token)), 403)
    assert_problem(await client.get(f"{AUDIT}?format=csv", headers=bearer(token)), 403)
    assert_problem(await client.get(AUDIT), 401)


async def test_a_tag_holds_until_the_next_write(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await created(client, tenant, "/v1/kpis", {"key": "k", "name": "K"})
    first = await client.get(AUDIT, headers=tenant.headers)
    tag = first.headers["etag"]
    again = await client.get(AUDIT, headers={**tenant.headers, "If-None-Match": tag})
    assert again.status_code == 304
    await created(client, tenant, "/v1/objectives", GOAL)
    changed = await client.get(AUDIT, headers={**tenant.headers, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert len(changed.json()["items"]) == 2
