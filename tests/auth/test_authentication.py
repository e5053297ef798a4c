"""Bearer key authentication and scopes, on a real endpoint."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from perfapi.models import ApiKey
from tests.support import Tenant, assert_problem, bearer, make_token

KEYS = "/v1/api-keys"


async def test_no_key_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get(KEYS)
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer pfk_000000000000_" + "x" * 32,
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ],
)
async def test_bad_key_is_401(client: httpx.AsyncClient, tenant: Tenant, header: str) -> None:
    response = await client.get(KEYS, headers={"Authorization": header})
    assert_problem(response, 401, "unauthorized")


async def test_right_prefix_wrong_secret_is_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    forged = tenant.token[:-4] + ("AAAA" if not tenant.token.endswith("AAAA") else "BBBB")
    response = await client.get(KEYS, headers=bearer(forged))
    assert_problem(response, 401)


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await make_token(sessionmaker, tenant, Scope.READ)
    created = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    victim = next(key for key in created if token.startswith(key["prefix"]))
    revoked = await client.post(f"{KEYS}/{victim['id']}/revoke", headers=tenant.headers)
    assert revoked.status_code == 200
    response = await client.get("/v1/api-keys", headers=bearer(token))
    body = assert_problem(response, 401)
    assert "revoked" in body["detail"]


async def test_expired_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.org_id == tenant.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    body = assert_problem(await client.get(KEYS, headers=tenant.headers), 401)
    assert "expired" in body["detail"]


@pytest.mark.parametrize("scopes", [(Scope.READ,), (Scope.WRITE, Scope.INGEST)])
async def test_missing_scope_is_403(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    scopes: tuple[Scope, ...],
) -> None:
    token = await make_token(sessionmaker, tenant, *scopes)
    response = await client.get(KEYS, headers=bearer(token))
    body = assert_problem(response, 403, "forbidden")
    assert "'admin' scope" in body["detail"]


async def test_use_is_recorded_in_last_used_at(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await make_token(sessionmaker, tenant, Scope.ADMIN)
    before = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    mine = next(key for key in before if token.startswith(key["prefix"]))
    assert mine["last_used_at"] is None
    assert (await client.get(KEYS, headers=bearer(token))).status_code == 200
    after = (await client.get(f"{KEYS}/{mine['id']}", headers=tenant.headers)).json()
    assert after["last_used_at"] is not None


async def test_a_failed_request_still_records_the_use(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await make_token(sessionmaker, tenant, Scope.ADMIN)
    missing = await client.get(f"{KEYS}/{uuid.uuid4()}", headers=bearer(token))
    assert_problem(missing, 404)
    keys = (await client.get(KEYS, headers=tenant.headers)).json()["items"]
    mine = next(key for key in keys if token.startswith(key["prefix"]))
    assert mine["last_used_at"] is not None
