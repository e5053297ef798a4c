"""Every error path answers application/problem+json, and nothing is half-written."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.db.session import DbSession
from perfapi.models import Org
from perfapi.orgs import repository as orgs_repository
from tests.support import Tenant, assert_problem, error_locs


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/api-keys")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_malformed_json_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/api-keys",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b'{"name": "x",',
    )
    body = assert_problem(response, 400, "malformed-json")
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str | None
) -> None:
    headers = dict(tenant.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(
        "/v1/api-keys", headers=headers, content=b'{"name": "x", "scopes": ["read"]}'
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/api-keys",
        headers={**tenant.headers, "Content-Type": "application/json; charset=utf-8"},
        content=b'{"name": "x", "scopes": ["read"]}',
    )
    assert response.status_code == 201


async def test_declared_oversized_body_is_413(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    padding = "x" * (settings.max_body_bytes + 1)
    response = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={"name": padding, "scopes": ["read"]}
    )
    body = assert_problem(response, 413, "content-too-large")
    assert str(settings.max_body_bytes) in body["detail"]


async def test_streamed_oversized_body_is_413(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    chunk = b" " * 65536

    async def endless_whitespace():  # type: ignore[no-untyped-def]
        yield b'{"name": "x", "scopes": ["read"]'
        for _ in range(settings.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b"}"

    response = await client.post(
        "/v1/api-keys",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=endless_whitespace(),
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    keys = (await client.get("/v1/api-keys", headers=tenant.headers)).json()["items"]
    assert len(keys) == 1


async def test_validation_is_422_with_errors(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/api-keys", headers=tenant.headers, json={"name": 5})
    body = assert_problem(response, 422, "validation-error")
    assert {"loc", "message", "type"} <= set(body["errors"][0])
    assert ["body", "scopes"] in error_locs(body)


@pytest.fixture
async def faulty_app(settings: Settings, empty_tables: None) -> FastAPI:
    """The real app plus one route whose transaction fails only at COMMIT."""
    app = create_app(settings)

    @app.post("/test/commit-fails")
    async def commit_fails(session: DbSession) -> dict[str, str]:
        await orgs_repository.add(session, Org(name="half-written"))
        # A deferred unique constraint is checked at COMMIT, after the handler returned.
        await session.execute(
            text(
                "CREATE TEMP TABLE once (id int, CONSTRAINT once_id UNIQUE (id) "
                "DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP"
            )
        )
        await session.execute(text("INSERT INTO once VALUES (1), (1)"))
        return {"status": "written"}

    return app


async def test_failed_commit_is_5xx_and_keeps_nothing(
    faulty_app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with faulty_app.router.lifespan_context(faulty_app):
        transport = httpx.ASGITransport(app=faulty_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
            response = await http.post("/test/commit-fails")
    body = assert_problem(response, 500, "internal-error")
    assert "written" not in response.text
    assert body["detail"].startswith("An internal error occurred")
    async with sessionmaker() as session:
        assert await orgs_repository.get_by_name(session, "half-written") is None
