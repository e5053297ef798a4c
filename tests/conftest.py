"""Fixtures: a real PostgreSQL, migrated by alembic, behind the real app.

``PERFAPI_TEST_DATABASE_URL`` names a server to use (CI: the machine's
PostgreSQL); without it an embedded server runs in ``.perfapi/test``. Each run
creates its own database there and drops it at the end; every test starts from
empty tables.
"""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.db.embedded import embedded_postgres
from perfapi.db.migrate import migrate
from perfapi.models import Base
from tests.support import Tenant, fresh_database, make_tenant

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    """An asyncpg URL of a server the tests may create databases on."""
    configured = os.environ.get("PERFAPI_TEST_DATABASE_URL")
    if configured:
        url = Settings(database_url=configured).database_url
        assert url is not None
        yield url
        return
    with embedded_postgres(REPO_ROOT / ".perfapi" / "test") as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(database_server_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_server_url, "main") as url:
        engine = create_async_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Background work off: tests run it themselves, when they mean to.
    return Settings(
        database_url=database_url,
        log_json=False,
        rollup_refresh_seconds=0,
        derived_events_seconds=0,
        webhook_delivery_seconds=0,
        points_partition_maintenance_seconds=0,
        webhook_allow_private_targets=True,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


@pytest.fixture
async def empty_tables(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Start the test from empty tables (cleaning before, so a failed test leaves evidence)."""
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with sessionmaker() as session, session.begin():
        await session.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
async def client(app: FastAPI, empty_tables: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
        yield http


@pytest.fixture
async def tenant(sessionmaker: async_sessionmaker[AsyncSession], empty_tables: None) -> Tenant:
    return await make_tenant(sessionmaker, "acme")


@pytest.fixture
async def other_tenant(
    sessionmaker: async_sessionmaker[AsyncSession], empty_tables: None
) -> Tenant:
    return await make_tenant(sessionmaker, "globex")
