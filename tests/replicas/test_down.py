"""A replica stopped while the server runs: reads go on from the primary, before and after
a check notices, and return to the replica once it is back. A module of its own: it
stops its cluster's replica."""

import asyncio
import logging

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from perfapi.replicas.health import ReplicaState
from perfapi.replicas.replica import ReadReplica
from tests.replicas.cluster import Cluster, caught_up, pause_replay, resume_replay
from tests.replicas.conftest import Ticks
from tests.replicas.helpers import fallbacks, ingest, listed_points, make_kpi, series_count
from tests.support import Tenant


async def test_a_replica_that_goes_down_is_passed_over_and_taken_back(
    client: httpx.AsyncClient,
    tenant: Tenant,
    read_replica: ReadReplica,
    cluster: Cluster,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="perfapi.replicas")
    kpi = await make_kpi(client, tenant)
    await ingest(client, tenant, day=5, value=10)
    await caught_up(primary, replica)
    assert await series_count(client, tenant, kpi) == 1  # the pool now holds a connection
    before = await fallbacks(client)

    await asyncio.to_thread(cluster.stop_replica)
    await replica.dispose()  # the test's own connections to it are gone too
    await ingest(client, tenant, day=6, value=20)

    # No check has run: the request finds the replica gone when it takes a connection,
    # before reading anything, and the primary answers.
    assert read_replica.health.state is ReplicaState.HEALTHY
    assert await series_count(client, tenant, kpi) == 2
    assert read_replica.health.state is ReplicaState.DOWN
    assert await fallbacks(client) == {"lag": before["lag"], "down": before["down"] + 1}

    # A check finds it down as well; reads no longer even try it.
    assert await read_replica.check(ticks.after(1)) is ReplicaState.DOWN
    assert await series_count(client, tenant, kpi) == 2
    down = await fallbacks(client)
    assert down == {"lag": before["lag"], "down": before["down"] + 2}
    logged = [record for record in caplog.records if record.name == "perfapi.replicas"]
    assert [record.levelno for record in logged] == [logging.WARNING]
    assert "read replica unreachable" in logged[0].getMessage()

    await asyncio.to_thread(cluster.start_replica)
    await caught_up(primary, replica)
    assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
    assert "usable again" in caplog.records[-1].getMessage()

    # Served by the replica again: held at a point, it misses a write the primary has.
    await caught_up(primary, replica)
    await pause_replay(replica)
    try:
        await ingest(client, tenant, day=7, value=30)
        assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
        assert await series_count(client, tenant, kpi) == 2
        assert await listed_points(client, tenant, kpi) == 3
    finally:
        await resume_replay(replica)
    await caught_up(primary, replica)
    assert await series_count(client, tenant, kpi) == 3
    assert await fallbacks(client) == down
