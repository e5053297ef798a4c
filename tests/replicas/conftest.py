"""Fixtures: a primary and its streaming replica per test module, and the app reading
from both. That app measures the replica's lag only when a test runs a check, on a clock
the test moves: no background monitor, no waiting for time to pass."""

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.db.migrate import migrate
from perfapi.points.partitions import PROCESS_MONTHS
from perfapi.replicas.replica import ReadReplica
from tests.replicas.cluster import Cluster, caught_up, engine, streaming_cluster
from tests.support import Tenant, make_tenant


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with streaming_cluster() as running:
        yield running


@pytest.fixture(scope="module")
async def primary(cluster: Cluster) -> AsyncIterator[AsyncEngine]:
    made = engine(cluster.primary_url)
    await migrate(made)
    # The months this process knows to have a partition are another database's: this
    # one has none yet. And the next module's database has none of this one's.
    PROCESS_MONTHS.clear()
    yield made
    PROCESS_MONTHS.clear()
    await made.dispose()


@pytest.fixture(scope="module")
async def replica(cluster: Cluster, primary: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    made = engine(cluster.replica_url)
    await caught_up(primary, made)  # the migration, before the app checks the schema
    yield made
    await made.dispose()


@pytest.fixture(scope="module")
def replica_settings(cluster: Cluster) -> Settings:
    return Settings(
        database_url=cluster.primary_url,
        read_database_url=cluster.replica_url,
        read_lag_check_seconds=0,
        log_json=False,
        rollup_refresh_seconds=0,
        derived_events_seconds=0,
        webhook_delivery_seconds=0,
        points_partition_maintenance_seconds=0,
    )


@pytest.fixture(scope="module")
async def replica_app(replica_settings: Settings, replica: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(replica_settings)
    async with application.router.lifespan_context(application):
        yield application


class Ticks:
    """A ``time.monotonic()`` stand-in that moves only when told to (from where the real
    one stood, so it never goes back behind the app's own first check)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def after(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture(scope="module")
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def read_replica(
    replica_app: FastAPI, ticks: Ticks, primary: AsyncEngine, replica: AsyncEngine
) -> ReadReplica:
    """The app's replica, caught up and found healthy, far from earlier tests' checks."""
    found: ReadReplica = replica_app.state.read_replica
    await caught_up(primary, replica)
    await found.check(ticks.after(3_600))
    return found


@pytest.fixture
async def client(replica_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=replica_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
        yield http


@pytest.fixture
async def tenant(replica_app: FastAPI) -> Tenant:
    maker: async_sessionmaker[AsyncSession] = replica_app.state.sessionmaker
    return await make_tenant(maker, f"acme-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def other_tenant(replica_app: FastAPI) -> Tenant:
    maker: async_sessionmaker[AsyncSession] = replica_app.state.sessionmaker
    return await make_tenant(maker, f"globex-{uuid.uuid4().hex[:8]}")
