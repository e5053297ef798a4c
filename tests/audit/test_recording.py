"""Every write of the API leaves one audit entry, in its transaction, naming who did
what to which resource with the old and new values of what changed."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from perfapi.config import Settings
from tests.audit.helpers import entries, entries_of, key_id_of
from tests.audit.scenarios import NOT_AUDITED, SCENARIOS, Context, Expected
from tests.support import Tenant, assert_problem, created, make_token

WRITE_METHODS = {"post", "put", "patch", "delete"}


def test_every_write_operation_has_a_scenario(app: FastAPI) -> None:
    """A new write route fails here until it records an entry and gets a scenario."""
    writes = {
        operation["operationId"]
        for item in app.openapi()["paths"].values()
        for method, operation in item.items()
        if method in WRITE_METHODS
    }
    assert writes - NOT_AUDITED == set(SCENARIOS)
    assert writes >= NOT_AUDITED


def _matches(expected: Any, recorded: Any) -> bool:
    return bool(expected(recorded)) if callable(expected) else bool(expected == recorded)


def check_changes(expected: Expected, changes: dict[str, list[Any]]) -> None:
    if expected.changes is not None:
        assert changes == expected.changes
    for name, (old, new) in expected.includes.items():
        assert name in changes, (name, changes)
        assert _matches(old, changes[name][0]), (name, changes[name])
        assert _matches(new, changes[name][1]), (name, changes[name])
    assert all(len(pair) == 2 for pair in changes.values()), changes
    if expected.kind == "create":
        assert all(old is None for old, _ in changes.values()), changes
        assert not {"id", "org_id", "created_at", "updated_at"} & set(changes)
    if expected.kind == "delete":
        assert all(new is None for _, new in changes.values()), changes
    if expected.kind == "rotation":
        assert set(changes) == set(expected.includes)


@pytest.mark.parametrize("operation_id", sorted(SCENARIOS))
async def test_a_write_records_one_entry_by_its_key(
    operation_id: str,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    context = Context(client, tenant, sessionmaker, settings)
    response, expected = await SCENARIOS[operation_id](context)
    request_id = response.headers["x-request-id"]

    [entry] = await entries_of(client, tenant, request_id)
    assert entry["actor"] == {"type": "api_key", "id": await key_id_of(client, tenant)}
    assert entry["action"] == expected.action
    assert entry["resource"] == {"type": expected.resource_type, "id": expected.resource_id}
    check_changes(expected, entry["changes"])
    assert set(entry) == {"id", "at", "actor", "action", "resource", "changes", "request_id"}


async def test_the_actor_is_the_key_that_wrote(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    writer = await make_token(sessionmaker, tenant, Scope.WRITE)
    response = await client.post(
        "/v1/kpis", headers={"Authorization": f"Bearer {writer}"}, json={"key": "k", "name": "K"}
    )
    assert response.status_code == 201, response.text
    [entry] = await entries_of(client, tenant, response.headers["x-request-id"])
    assert entry["actor"] == {"type": "api_key", "id": await key_id_of(client, tenant, writer)}


async def test_a_request_id_sent_by_the_client_is_recorded(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/v1/kpis",
        headers={**tenant.headers, "X-Request-Id": "deploy-2026-01-15.7"},
        json={"key": "k", "name": "K"},
    )
    assert response.status_code == 201
    [entry] = await entries(client, tenant, "&resource_type=kpi")
    assert entry["request_id"] == "deploy-2026-01-15.7"


async def test_relinking_records_the_weight_that_changed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    objective = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
    )
    kpi = await created(client, tenant, "/v1/kpis", {"key": "k", "name": "K"})
    link = f"/v1/objectives/{objective}/kpis/{kpi}"
    for weight in (1, 2.5, 2.5):
        response = await client.put(link, headers=tenant.headers, json={"weight": weight})
        assert response.is_success, response.text
    linked = await entries(client, tenant, f"&resource_id={objective}")
    # Newest first: the same weight again changed nothing but names the link.
    assert [e["changes"] for e in linked if e["action"] == "objective.kpi_linked"] == [
        {"kpi_id": [kpi, kpi]},
        {"kpi_id": [kpi, kpi], "weight": [1.0, 2.5]},
        {"kpi_id": [None, kpi], "weight": [None, 1.0]},
    ]


async def test_an_update_records_only_the_fields_that_changed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await created(client, tenant, "/v1/kpis", {"key": "k", "name": "K", "unit": "EUR"})
    response = await client.patch(
        f"/v1/kpis/{kpi}", headers=tenant.headers, json={"name": "K", "unit": "USD", "tags": []}
    )
    assert response.status_code == 200, response.text
    [entry] = await entries_of(client, tenant, response.headers["x-request-id"])
    assert entry["changes"] == {"unit": ["EUR", "USD"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/kpis", {"key": "k", "name": "again"}, 409),
        ("POST", "/v1/kpis", {"key": "Not a key", "name": "K"}, 422),
        ("PATCH", "/v1/objectives/{objective}", {"due_date": "2025-01-01"}, 422),
        ("DELETE", "/v1/objectives/{parent}", None, 409),
        ("POST", "/v1/points", {"points": [{"kpi": "k", "ts": "2026-01-01", "value": 1}]}, 422),
        ("POST", "/v1/points", {"points": [{"kpi": "nope", "ts": "2026-01-01T00:00:00Z"}]}, 422),
        ("POST", "/v1/key-results/{kpi_fed}/check-ins", {"value": 1}, 409),
        ("POST", "/v1/webhook-endpoints", {"url": "ftp://example.com", "events": ["*"]}, 422),
        ("POST", "/v1/api-keys", {"name": "x", "scopes": ["root"]}, 422),
        ("DELETE", "/v1/kpis/{kpi}/points?from=2026-02-01&to=2026-01-01", None, 422),
    ],
)
async def test_a_write_that_fails_leaves_no_entry(
    client: httpx.AsyncClient,
    tenant: Tenant,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    kpi = await created(client, tenant, "/v1/kpis", {"key": "k", "name": "K"})
    goal = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}
    parent = await created(client, tenant, "/v1/objectives", goal)
    await created(client, tenant, "/v1/objectives", {**goal, "parent_id": parent})
    kpi_fed = await created(
        client,
        tenant,
        f"/v1/objectives/{parent}/key-results",
        {"title": "From the KPI", "direction": "at_least", "target_value": 1, "kpi_id": kpi},
    )
    before = await entries(client, tenant)
    url = path.format(kpi=kpi, objective=parent, parent=parent, kpi_fed=kpi_fed)
    response = await client.request(method, url, headers=tenant.headers, json=body)
    assert_problem(response, status)
    assert await entries(client, tenant) == before
