"""A key's own ``rate_limit_per_minute``: set on create, shown on reads, changed by
PATCH (JSON merge patch; null: back to the default), bad values refused, other orgs'
keys out of reach."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.ratelimits.helpers import assert_policy, assert_rate_limited, make_key
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token

KEYS = "/v1/api-keys"
BAD_LIMITS = [0, -1, 1_000_001, 2.5, "60", True, {"per": "minute"}]


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "ci", "scopes": ["read"], **fields}
    response = await client.post(KEYS, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_the_limit_is_set_on_create_and_shown_on_reads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    own = await create(client, tenant, rate_limit_per_minute=120)
    default = await create(client, tenant)
    assert (own["rate_limit_per_minute"], default["rate_limit_per_minute"]) == (120, None)
    fetched = await client.get(f"{KEYS}/{own['id']}", headers=tenant.headers)
    assert fetched.json()["rate_limit_per_minute"] == 120
    listed = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    assert {item["id"]: item["rate_limit_per_minute"] for item in listed} == {
        own["id"]: 120,
        default["id"]: None,
        listed[-1]["id"]: None,  # the tenant's own admin key
    }
    answer = await client.get("/v1/kpis", headers=bearer(own["key"]))
    assert_policy(answer, "key", 120)


@pytest.mark.parametrize("limit", BAD_LIMITS)
async def test_a_bad_limit_on_create_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, limit: object
) -> None:
    body = {"name": "x", "scopes": ["read"], "rate_limit_per_minute": limit}
    response = await client.post(KEYS, headers=tenant.headers, json=body)
    assert error_locs(assert_problem(response, 422, "validation-error")) == [
        ["body", "rate_limit_per_minute"]
    ]
    assert len((await client.get(KEYS, headers=tenant.headers)).json()["items"]) == 1


async def test_patch_changes_the_limit_and_null_restores_the_default(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key = await create(client, tenant, rate_limit_per_minute=5)
    path = f"{KEYS}/{key['id']}"

    changed = await client.patch(path, headers=tenant.headers, json={"rate_limit_per_minute": 9})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["rate_limit_per_minute"], changed.json()["name"]) == (9, "ci")
    assert_policy(await client.get("/v1/kpis", headers=bearer(key["key"])), "key", 9)

    renamed = await client.patch(path, headers=tenant.headers, json={"name": "etl"})
    assert (renamed.json()["name"], renamed.json()["rate_limit_per_minute"]) == ("etl", 9)
    untouched = await client.patch(path, headers=tenant.headers, json={})
    assert untouched.json() == renamed.json()

    reset = await client.patch(path, headers=tenant.headers, json={"rate_limit_per_minute": None})
    assert reset.json()["rate_limit_per_minute"] is None
    assert (await client.get(path, headers=tenant.headers)).json() == reset.json()
    assert_policy(await client.get("/v1/kpis", headers=bearer(key["key"])), "default", 6000)


async def test_a_raised_limit_applies_from_the_next_request(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    token = await make_token(sessionmaker, tenant, Scope.READ)
    key_id = (await client.get(KEYS, headers=tenant.headers)).json()["items"][0]["id"]
    patch = {"rate_limit_per_minute": 1}
    assert (await client.patch(f"{KEYS}/{key_id}", headers=tenant.headers, json=patch)).is_success
    assert (await client.get("/v1/kpis", headers=bearer(token))).status_code == 200
    assert_rate_limited(await client.get("/v1/kpis", headers=bearer(token)), "key", 1)
    # The minute used at 1 a minute is a minute used at any rate, and comes back at the
    # new pace: at a million a minute, one request every 60 microseconds.
    patch = {"rate_limit_per_minute": 1_000_000}
    assert (await client.patch(f"{KEYS}/{key_id}", headers=tenant.headers, json=patch)).is_success
    answer = await client.get("/v1/kpis", headers=bearer(token))
    assert answer.status_code == 200
    assert_policy(answer, "key", 1_000_000)


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        *(
            ({"rate_limit_per_minute": limit}, ["body", "rate_limit_per_minute"])
            for limit in BAD_LIMITS
        ),
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"scopes": ["admin"]}, ["body", "scopes"]),
        ({"prefix": "pfk_000000000000"}, ["body", "prefix"]),
    ],
)
async def test_a_bad_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, patch: dict[str, Any], loc: list[str]
) -> None:
    key = await create(client, tenant, rate_limit_per_minute=5)
    path = f"{KEYS}/{key['id']}"
    response = await client.patch(path, headers=tenant.headers, json=patch)
    assert error_locs(assert_problem(response, 422, "validation-error")) == [loc]
    stored = (await client.get(path, headers=tenant.headers)).json()
    assert (stored["name"], stored["rate_limit_per_minute"], stored["scopes"]) == (
        "ci",
        5,
        ["read"],
    )


async def test_patch_needs_json_and_the_admin_scope(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    key = await create(client, tenant)
    path = f"{KEYS}/{key['id']}"
    as_text = await client.patch(
        path, headers={**tenant.headers, "Content-Type": "text/plain"}, content=b"{}"
    )
    assert_problem(as_text, 415, "unsupported-media-type")
    not_json = await client.patch(
        path, headers={**tenant.headers, "Content-Type": "application/json"}, content=b"{"
    )
    assert_problem(not_json, 400, "malformed-json")
    writer = await make_key(sessionmaker, tenant, None, Scope.READ, Scope.WRITE)
    forbidden = await client.patch(path, headers=writer, json={"rate_limit_per_minute": 1})
    assert_problem(forbidden, 403, "forbidden")
    assert_problem(await client.patch(path, json={"rate_limit_per_minute": 1}), 401)
    assert (await client.get(path, headers=tenant.headers)).json()["rate_limit_per_minute"] is None


async def test_another_orgs_key_cannot_be_changed(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create(client, other_tenant, rate_limit_per_minute=50)
    path = f"{KEYS}/{theirs['id']}"
    response = await client.patch(path, headers=tenant.headers, json={"rate_limit_per_minute": 1})
    assert_problem(response, 404, "not-found")
    nobody = await client.patch(
        f"{KEYS}/{uuid.uuid4()}", headers=tenant.headers, json={"rate_limit_per_minute": 1}
    )
    assert_problem(nobody, 404, "not-found")
    assert response.json()["detail"] == nobody.json()["detail"]
    kept = await client.get(path, headers=other_tenant.headers)
    assert kept.json() == {name: value for name, value in theirs.items() if name != "key"}
