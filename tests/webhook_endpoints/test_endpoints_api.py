"""``/v1/webhook-endpoints``: configuration, secrets, bad input, scopes and other orgs."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token

ENDPOINTS = "/v1/webhook-endpoints"
RECEIVER = "http://127.0.0.1:9/hooks"


async def create(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await client.post(
        ENDPOINTS, headers=tenant.headers, json={"url": RECEIVER, "events": ["*"], **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def private_targets_refused(app: FastAPI) -> Iterator[None]:
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"webhook_allow_private_targets": False})
    try:
        yield
    finally:
        app.state.settings = settings


async def test_create_shows_the_secret_once_and_reads_never_again(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        ENDPOINTS,
        headers=tenant.headers,
        json={
            "url": RECEIVER,
            "events": ["kpi.status_changed", "points.ingested", "kpi.status_changed"],
            "description": "Sales dashboard",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{ENDPOINTS}/{created['id']}"
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["kpi.status_changed", "points.ingested"]
    assert created["enabled"] is True
    assert created["failing_since"] is None

    got = await client.get(f"{ENDPOINTS}/{created['id']}", headers=tenant.headers)
    assert got.status_code == 200
    assert "secret" not in got.json()
    assert got.json() == {key: value for key, value in created.items() if key != "secret"}
    listed = await client.get(ENDPOINTS, headers=tenant.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert "secret" not in listed.json()["items"][0]
    assert created["secret"] not in listed.text


async def test_patch_changes_fields_and_delete_removes(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    endpoint = await create(client, tenant)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    patched = await client.patch(
        path,
        headers=tenant.headers,
        json={"events": ["objective.achieved"], "description": "OKR channel"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["objective.achieved"]
    assert patched.json()["description"] == "OKR channel"
    assert patched.json()["url"] == RECEIVER

    assert (await client.delete(path, headers=tenant.headers)).status_code == 204
    assert_problem(await client.get(path, headers=tenant.headers), 404)
    assert_problem(await client.delete(path, headers=tenant.headers), 404)


async def test_rotation_issues_a_new_secret_and_keeps_the_old_for_the_overlap(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    endpoint = await create(client, tenant)
    path = f"{ENDPOINTS}/{endpoint['id']}/rotate-secret"
    rotated = await client.post(path, headers=tenant.headers, json={"overlap_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != endpoint["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None

    without = await client.post(path, headers=tenant.headers, json={"overlap_seconds": 0})
    assert without.json()["previous_secret_expires_at"] is None
    defaulted = await client.post(path, headers=tenant.headers)
    assert defaulted.status_code == 200
    assert defaulted.json()["previous_secret_expires_at"] is not None

    too_long = await client.post(path, headers=tenant.headers, json={"overlap_seconds": 10**9})
    assert error_locs(assert_problem(too_long, 422)) == [["body", "overlap_seconds"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": RECEIVER, "events": ["kpi.exploded"]}, ["body", "events", 0]),
        ({"url": RECEIVER, "events": []}, ["body", "events"]),
        ({"url": RECEIVER, "events": "*"}, ["body", "events"]),
        ({"url": RECEIVER}, ["body", "events"]),
        ({"url": "ftp://127.0.0.1/hooks", "events": ["*"]}, ["body", "url"]),
        ({"url": "javascript:alert(1)", "events": ["*"]}, ["body", "url"]),
        ({"url": "https://user:pw@127.0.0.1/", "events": ["*"]}, ["body", "url"]),
        ({"url": "http://127.0.0.1:99999/", "events": ["*"]}, ["body", "url"]),
        ({"url": "http:///nohost", "events": ["*"]}, ["body", "url"]),
        ({"url": "", "events": ["*"]}, ["body", "url"]),
        ({"url": RECEIVER, "events": ["*"], "enabled": "yes"}, ["body", "enabled"]),
        ({"url": RECEIVER, "events": ["*"], "secret": "mine"}, ["body", "secret"]),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], loc: list[str | int]
) -> None:
    problem = assert_problem(await client.post(ENDPOINTS, headers=tenant.headers, json=body), 422)
    assert loc in error_locs(problem)
    listed = await client.get(ENDPOINTS, headers=tenant.headers)
    assert listed.json()["items"] == []


async def test_an_unknown_event_type_says_which(client: httpx.AsyncClient, tenant: Tenant) -> None:
    problem = assert_problem(
        await client.post(
            ENDPOINTS, headers=tenant.headers, json={"url": RECEIVER, "events": ["kpi.gone"]}
        ),
        422,
    )
    assert problem["errors"][0]["type"] == "unknown_event_type"
    assert "'kpi.gone'" in problem["errors"][0]["message"]


@pytest.mark.usefixtures("private_targets_refused")
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
async def test_private_targets_are_refused_unless_allowed(
    client: httpx.AsyncClient, tenant: Tenant, url: str
) -> None:
    problem = assert_problem(
        await client.post(ENDPOINTS, headers=tenant.headers, json={"url": url, "events": ["*"]}),
        422,
    )
    assert problem["errors"][0]["loc"] == ["body", "url"]
    assert problem["errors"][0]["type"] == "target_refused"
    assert "PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS" in problem["errors"][0]["message"]


async def test_a_patch_to_a_refused_url_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    endpoint = await create(client, tenant)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    refused = await client.patch(path, headers=tenant.headers, json={"url": "gopher://x/"})
    assert error_locs(assert_problem(refused, 422)) == [["body", "url"]]
    nulled = await client.patch(path, headers=tenant.headers, json={"events": None})
    assert error_locs(assert_problem(nulled, 422)) == [["body", "events"]]
    assert (await client.get(path, headers=tenant.headers)).json()["url"] == RECEIVER


async def test_endpoints_need_the_admin_scope(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    endpoint = await create(client, tenant)
    writer = bearer(await make_token(sessionmaker, tenant, Scope.READ, Scope.WRITE))
    for method, path in [
        ("GET", ENDPOINTS),
        ("POST", ENDPOINTS),
        ("GET", f"{ENDPOINTS}/{endpoint['id']}"),
        ("PATCH", f"{ENDPOINTS}/{endpoint['id']}"),
        ("DELETE", f"{ENDPOINTS}/{endpoint['id']}"),
        ("POST", f"{ENDPOINTS}/{endpoint['id']}/rotate-secret"),
        ("GET", f"{ENDPOINTS}/{endpoint['id']}/attempts"),
    ]:
        response = await client.request(
            method, path, headers=writer, json={"url": RECEIVER, "events": ["*"]}
        )
        assert_problem(response, 403)
    assert (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers)).json()[
        "description"
    ] == ""


async def test_another_orgs_endpoint_is_invisible(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    endpoint = await create(client, tenant)
    async with sessionmaker() as session:
        attempt_id = await session.scalar(text("SELECT gen_random_uuid()"))
    base = f"{ENDPOINTS}/{endpoint['id']}"
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("DELETE", base, None),
        ("POST", f"{base}/rotate-secret", None),
        ("GET", f"{base}/attempts", None),
        ("POST", f"{base}/attempts/{attempt_id}/retry", None),
    ]:
        response = await client.request(method, path, headers=other_tenant.headers, json=body)
        assert_problem(response, 404)
    listed = await client.get(ENDPOINTS, headers=other_tenant.headers)
    assert listed.json()["items"] == []
    mine = await client.get(base, headers=tenant.headers)
    assert mine.status_code == 200
    assert mine.json()["description"] == ""


async def test_unknown_ids_are_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    endpoint = await create(client, tenant)
    missing = "00000000-0000-4000-8000-000000000000"
    base = f"{ENDPOINTS}/{endpoint['id']}"
    assert_problem(await client.get(f"{ENDPOINTS}/{missing}", headers=tenant.headers), 404)
    retried = await client.post(f"{base}/attempts/{missing}/retry", headers=tenant.headers)
    assert_problem(retried, 404)
    assert_problem(await client.get(f"{ENDPOINTS}/not-a-uuid", headers=tenant.headers), 422)
    listed = await client.get(f"{base}/attempts", headers=tenant.headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    assert listed.headers["cache-control"] == "no-store"
    bad_status = await client.get(f"{base}/attempts?status=maybe", headers=tenant.headers)
    assert error_locs(assert_problem(bad_status, 422)) == [["query", "status"]]
