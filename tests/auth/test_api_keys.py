"""The /v1/api-keys resource: list, create (secret shown once), get, revoke."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support import Tenant, assert_problem, bearer, error_locs

KEYS = "/v1/api-keys"


async def test_create_returns_the_secret_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        KEYS, headers=tenant.headers, json={"name": "ci", "scopes": ["read", "ingest", "read"]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{KEYS}/{created['id']}"
    assert created["scopes"] == ["ingest", "read"]
    assert created["key"].startswith(created["prefix"] + "_")
    assert created["revoked_at"] is None

    fetched = await client.get(response.headers["location"], headers=tenant.headers)
    assert fetched.status_code == 200
    assert "key" not in fetched.json()
    listed = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    assert all("key" not in item for item in listed)

    works = await client.get("/v1/api-keys", headers=bearer(created["key"]))
    assert_problem(works, 403)  # authenticates, but has no admin scope


async def test_created_key_with_expiry(client: httpx.AsyncClient, tenant: Tenant) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = await client.post(
        KEYS,
        headers=tenant.headers,
        json={"name": "tmp", "scopes": ["read"], "expires_at": expires},
    )
    assert response.status_code == 201
    assert response.json()["expires_at"] is not None


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"scopes": ["read"]}, ["body", "name"]),
        ({"name": "", "scopes": ["read"]}, ["body", "name"]),
        ({"name": "x", "scopes": []}, ["body", "scopes"]),
        ({"name": "x", "scopes": ["superuser"]}, ["body", "scopes", 0]),
        ({"name": "x", "scopes": ["read"], "colour": "red"}, ["body", "colour"]),
        (
            {"name": "x", "scopes": ["read"], "expires_at": "2030-01-01T00:00:00"},
            ["body", "expires_at"],
        ),
    ],
)
async def test_invalid_create_is_422_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, object], loc: list[object]
) -> None:
    response = await client.post(KEYS, headers=tenant.headers, json=payload)
    body = assert_problem(response, 422, "validation-error")
    assert loc in error_locs(body)
    listed = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    assert len(listed) == 1  # only the tenant's own key


async def test_every_problem_is_listed(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(KEYS, headers=tenant.headers, json={"scopes": ["x"], "y": 1})
    body = assert_problem(response, 422)
    assert sorted(map(str, error_locs(body))) == sorted(
        map(str, [["body", "name"], ["body", "scopes", 0], ["body", "y"]])
    )


async def test_revoke_is_idempotent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = (
        await client.post(KEYS, headers=tenant.headers, json={"name": "x", "scopes": ["read"]})
    ).json()
    first = await client.post(f"{KEYS}/{created['id']}/revoke", headers=tenant.headers)
    second = await client.post(f"{KEYS}/{created['id']}/revoke", headers=tenant.headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["revoked_at"] is not None
    assert second.json()["revoked_at"] == first.json()["revoked_at"]


async def test_unknown_key_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = uuid.uuid4()
    assert_problem(await client.get(f"{KEYS}/{missing}", headers=tenant.headers), 404)
    assert_problem(await client.post(f"{KEYS}/{missing}/revoke", headers=tenant.headers), 404)


async def test_malformed_id_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = assert_problem(await client.get(f"{KEYS}/not-a-uuid", headers=tenant.headers), 422)
    assert ["path", "key_id"] in error_locs(body)


async def test_another_orgs_keys_are_invisible(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = (await client.get(KEYS, headers=other_tenant.headers)).json()["items"][0]
    assert_problem(await client.get(f"{KEYS}/{theirs['id']}", headers=tenant.headers), 404)
    revoke = await client.post(f"{KEYS}/{theirs['id']}/revoke", headers=tenant.headers)
    assert_problem(revoke, 404)
    mine = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    assert theirs["id"] not in {key["id"] for key in mine}
    # Nothing changed on their side: their key still works and is not revoked.
    still = await client.get(f"{KEYS}/{theirs['id']}", headers=other_tenant.headers)
    assert still.status_code == 200
    assert still.json()["revoked_at"] is None


async def test_pagination_walks_every_key_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for number in range(6):
        created = await client.post(
            KEYS, headers=tenant.headers, json={"name": f"k{number}", "scopes": ["read"]}
        )
        assert created.status_code == 201
    seen: list[str] = []
    url: str | None = f"{KEYS}?limit=4"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=tenant.headers)
        assert response.status_code == 200
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            url = None
        else:
            assert response.headers["link"].endswith('>; rel="next"')
            url = response.headers["link"][1 : response.headers["link"].index(">")]
            assert f"cursor={page['next_cursor']}" in url
    assert pages == 2
    assert len(seen) == len(set(seen)) == 7
    names = [
        item["name"] for item in (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    ]
    assert names[0] == "k5"  # newest first


@pytest.mark.parametrize("cursor", ["garbage!", "bm90IGpzb24", "WyJ4Il0", "WyJ4IiwieSJd"])
async def test_bad_cursor_is_422(client: httpx.AsyncClient, tenant: Tenant, cursor: str) -> None:
    response = await client.get(KEYS, headers=tenant.headers, params={"cursor": cursor})
    body = assert_problem(response, 422)
    assert error_locs(body) == [["query", "cursor"]]


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
async def test_bad_limit_is_422(client: httpx.AsyncClient, tenant: Tenant, limit: str) -> None:
    response = await client.get(KEYS, headers=tenant.headers, params={"limit": limit})
    body = assert_problem(response, 422)
    assert error_locs(body) == [["query", "limit"]]
