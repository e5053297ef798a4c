"""Test helpers: databases, orgs with keys, and assertions on problem documents."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from perfapi.app import create_app
from perfapi.auth.service import issue_key
from perfapi.auth.tokens import Scope
from perfapi.config import Settings
from perfapi.orgs.service import create_org

PROBLEM_MEDIA_TYPE = "application/problem+json"


@asynccontextmanager
async def fresh_database(server_url: str, label: str) -> AsyncIterator[str]:
    """Create an empty database on the test server; drop it afterwards."""
    name = f"perfapi_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@dataclass(frozen=True)
class Tenant:
    """An org and one key with every scope."""

    id: uuid.UUID
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_tenant(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> Tenant:
    async with sessionmaker() as session, session.begin():
        org = await create_org(session, name)
        _, token = await issue_key(session, org.id, "test admin", list(Scope))
    return Tenant(id=org.id, name=name, token=token)


async def make_token(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, *scopes: Scope
) -> str:
    async with sessionmaker() as session, session.begin():
        _, token = await issue_key(session, tenant.id, "test key", scopes)
    return token


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:perfapi:problem:")
    if slug is not None:
        assert body["type"] == f"urn:perfapi:problem:{slug}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def error_locs(body: dict[str, Any]) -> list[list[str | int]]:
    return [error["loc"] for error in body["errors"]]


async def walk_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `Link: <...>; rel="next"` until `next_cursor` is null.

    Checks the pagination contract on the way: the link carries the cursor of the
    page it follows and appears exactly when there is a next page.
    """
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["items"])
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            next_url = None
        else:
            link = response.headers["link"]
            assert link.startswith("<"), link
            assert link.endswith('>; rel="next"'), link
            next_url = link[1 : link.index(">")]
            assert f"cursor={page['next_cursor']}" in next_url
    return pages


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a separate app with these settings (e.g. a database that is down)."""
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
            yield http


async def created(client: httpx.AsyncClient, tenant: Tenant, path: str, body: Any) -> str:
    """POST a body that must be created; the new id."""
    response = await client.post(path, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    made: str = response.json()["id"]
    return made


async def one_of_each(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """The ids of a KPI, an objective for 2026 and a checked-in key result of it."""
    kpi = await created(client, tenant, "/v1/kpis", {"key": "sales.arr", "name": "ARR"})
    objective = await created(
        client,
        tenant,
        "/v1/objectives",
        {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
    )
    key_result = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Ship", "direction": "at_least", "target_value": 1},
    )
    return {"kpi": kpi, "objective": objective, "key_result": key_result}
