"""Reads routed to a real streaming replica: what it serves, what the primary serves, and
when a lagging replica is passed over.

Replay is paused on the replica to hold it at a known point: whatever is written on the
primary meanwhile shows in a read served by the primary and not in one served by the
replica. Checks run on a clock the test moves (``ticks``), so a lag is exactly the
seconds the test says.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from perfapi.config import Settings
from perfapi.replicas.health import ReplicaState
from perfapi.replicas.replica import ReadReplica
from tests.replicas.cluster import CATCH_UP_TIMEOUT, caught_up, pause_replay, resume_replay
from tests.replicas.conftest import Ticks
from tests.replicas.helpers import (
    fallbacks,
    ingest,
    listed_points,
    make_kpi,
    series_count,
    series_path,
)
from tests.support import Tenant, assert_problem, bearer, created, running


async def test_reports_read_the_replica_and_resources_the_primary(
    client: httpx.AsyncClient,
    tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
) -> None:
    kpi = await make_kpi(client, tenant)
    await ingest(client, tenant, day=5, value=10)
    await caught_up(primary, replica)
    assert await series_count(client, tenant, kpi) == 1
    before = await fallbacks(client)

    await pause_replay(replica)
    try:
        await ingest(client, tenant, day=6, value=20)
        orphan = await created(client, tenant, "/v1/kpis", {"key": "ops.nps", "name": "NPS"})
        # One second behind: well within the 5 allowed.
        assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY

        assert await listed_points(client, tenant, kpi) == 2
        kpis = (await client.get("/v1/kpis", headers=tenant.headers)).json()["items"]
        assert orphan in {item["id"] for item in kpis}

        assert await series_count(client, tenant, kpi) == 1
        alignment = await client.get("/v1/reports/alignment", headers=tenant.headers)
        assert alignment.status_code == 200, alignment.text
        assert [item["id"] for item in alignment.json()["orphan_kpis"]] == [kpi]
    finally:
        await resume_replay(replica)

    await caught_up(primary, replica)
    assert await series_count(client, tenant, kpi) == 2
    alignment = await client.get("/v1/reports/alignment", headers=tenant.headers)
    assert {item["id"] for item in alignment.json()["orphan_kpis"]} == {kpi, orphan}
    assert await fallbacks(client) == before


async def test_a_lagging_replica_is_passed_over_until_it_catches_up(
    client: httpx.AsyncClient,
    tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="perfapi.replicas")
    kpi = await make_kpi(client, tenant)
    await ingest(client, tenant, day=5, value=10)
    assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
    await caught_up(primary, replica)  # past every position that check noted
    before = await fallbacks(client)

    await pause_replay(replica)
    try:
        await ingest(client, tenant, day=6, value=20)
        # Ten seconds on, the replica still has only what the primary had at the last
        # check: ten seconds behind, twice what is allowed.
        assert await read_replica.check(ticks.after(10)) is ReplicaState.LAGGING
        assert await series_count(client, tenant, kpi) == 2
        assert await series_count(client, tenant, kpi) == 2
        during = await fallbacks(client)
        assert during == {"lag": before["lag"] + 2, "down": before["down"]}
        # A check that finds it still behind changes nothing, and says nothing again.
        assert await read_replica.check(ticks.after(1)) is ReplicaState.LAGGING
    finally:
        await resume_replay(replica)
    lagging = _replica_logs(caplog)
    assert [(record.levelno, getattr(record, "replica_state", None)) for record in lagging] == [
        (logging.WARNING, "lag")
    ]
    # Ten seconds is further back than the positions kept for a 5 s limit reach.
    assert lagging[0].getMessage() == (
        "read replica behind every position of the primary noted lately, by an unknown "
        "time: the primary serves its reads"
    )

    await caught_up(primary, replica)
    caplog.clear()
    assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
    assert [record.levelno for record in _replica_logs(caplog)] == [logging.INFO]
    assert "usable again" in caplog.records[0].getMessage()
    await _assert_served_by_replica(client, tenant, kpi, read_replica, primary, replica, ticks)
    assert await fallbacks(client) == during


async def test_the_tag_comes_from_the_snapshot_the_answer_comes_from(
    client: httpx.AsyncClient,
    tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
) -> None:
    kpi = await make_kpi(client, tenant)
    await ingest(client, tenant, day=5, value=10)
    await caught_up(primary, replica)
    first = await client.get(series_path(kpi), headers=tenant.headers)
    assert first.status_code == 200, first.text
    tag = first.headers["etag"]

    await pause_replay(replica)
    try:
        await ingest(client, tenant, day=6, value=20)
        assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
        # The replica has not seen the write: the old answer, under its old tag.
        during = await client.get(series_path(kpi), headers=tenant.headers)
        assert during.headers["etag"] == tag
        assert during.json() == first.json()
        unchanged = await client.get(series_path(kpi), headers=tenant.headers | _if_none(tag))
        assert unchanged.status_code == 304
    finally:
        await resume_replay(replica)

    await caught_up(primary, replica)
    after = await client.get(series_path(kpi), headers=tenant.headers | _if_none(tag))
    assert after.status_code == 200, after.text
    assert after.headers["etag"] != tag
    assert after.json()["buckets"][0]["count"] == 2


async def test_another_orgs_kpi_is_404_on_the_replica_too(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
) -> None:
    await make_kpi(client, tenant)
    theirs = await make_kpi(client, other_tenant)
    await ingest(client, other_tenant, day=5, value=10)
    await caught_up(primary, replica)
    before = await fallbacks(client)

    for path in (
        series_path(theirs),
        f"/v1/kpis/{theirs}/forecast?interval=month&method=naive&as_of=2026-06-30",
        f"/v1/kpis/{theirs}/attainment?as_of=2026-06-30",
    ):
        assert_problem(await client.get(path, headers=tenant.headers), 404)
    assert await series_count(client, other_tenant, theirs) == 1
    assert read_replica.health.state is ReplicaState.HEALTHY
    assert await fallbacks(client) == before


async def test_a_revoked_key_stops_working_though_the_replica_has_not_seen_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
) -> None:
    kpi = await make_kpi(client, tenant)
    made = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={"name": "bi", "scopes": ["read"]}
    )
    assert made.status_code == 201, made.text
    key = made.json()
    await caught_up(primary, replica)
    assert await series_count(client, Tenant(tenant.id, tenant.name, key["key"]), kpi) == 0

    await pause_replay(replica)
    try:
        revoked = await client.post(f"/v1/api-keys/{key['id']}/revoke", headers=tenant.headers)
        assert revoked.status_code == 200, revoked.text
        assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
        assert_problem(await client.get(series_path(kpi), headers=bearer(key["key"])), 401)
    finally:
        await resume_replay(replica)


async def _assert_served_by_replica(
    client: httpx.AsyncClient,
    tenant: Tenant,
    kpi: str,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    ticks: Ticks,
) -> None:
    """A series read now comes from the replica: it misses a write replay has not reached."""
    await caught_up(primary, replica)
    seen = await series_count(client, tenant, kpi)
    await pause_replay(replica)
    try:
        await ingest(client, tenant, day=20, value=1)
        assert await read_replica.check(ticks.after(1)) is ReplicaState.HEALTHY
        assert await series_count(client, tenant, kpi) == seen
        assert await listed_points(client, tenant, kpi) == seen + 1
    finally:
        await resume_replay(replica)
    await caught_up(primary, replica)


def _replica_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "perfapi.replicas"]


def _if_none(tag: str) -> dict[str, str]:
    return {"If-None-Match": tag}


class _Heard(logging.Handler):
    """Sets an event when a log line with ``words`` is written."""

    def __init__(self, words: str) -> None:
        super().__init__(logging.INFO)
        self.words = words
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


@asynccontextmanager
async def _heard(words: str) -> AsyncIterator[asyncio.Event]:
    handler = _Heard(words)
    logger = logging.getLogger("perfapi.replicas")
    logger.addHandler(handler)
    try:
        yield handler.event
    finally:
        logger.removeHandler(handler)


async def test_the_background_check_notices_lag_and_recovery_by_itself(
    replica_settings: Settings,
    tenant: Tenant,
    read_replica: ReadReplica,
    primary: AsyncEngine,
    replica: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="perfapi.replicas")
    watched = replica_settings.model_copy(
        update={"read_lag_check_seconds": 0.05, "read_max_lag_seconds": 0.5}
    )
    async with running(watched) as client:
        kpi = await make_kpi(client, tenant)
        await caught_up(primary, replica)
        async with _heard("read replica behind") as lagging:
            await pause_replay(replica)
            try:
                await ingest(client, tenant, day=5, value=10)
                async with asyncio.timeout(CATCH_UP_TIMEOUT):
                    await lagging.wait()
                assert await series_count(client, tenant, kpi) == 1
                assert (await fallbacks(client))["lag"] == 1
            finally:
                async with _heard("usable again") as usable:
                    await resume_replay(replica)
                    async with asyncio.timeout(CATCH_UP_TIMEOUT):
                        await usable.wait()
        assert await series_count(client, tenant, kpi) == 1
        assert (await fallbacks(client))["lag"] == 1
