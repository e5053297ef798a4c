"""A change the refresher cannot process is isolated: retried with backoff, parked after
a few tries, counted and logged, and never in the way of other KPIs or orgs.

Time is driven by the ``now`` each round is given; nothing sleeps. The failure is a
real database error injected into one KPI's recompute (``fail_recompute_of``).
"""

import logging
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.ops.metrics import RollupMetrics
from perfapi.rollups.repository import record_changes
from perfapi.rollups.service import (
    MAX_RANGES_PER_BATCH,
    RefreshResult,
    RetryPolicy,
    refresh,
    retry_parked,
)
from perfapi.rollups.worker import refresh_round
from tests.reports.dataset import create_kpi, point, seed_orders, seed_visits, send
from tests.reports.failures import change_states, day_rollup_count, fail_recompute_of, metric
from tests.reports.test_rollups import (
    CHANGED,
    CHANGED_DAY_ROWS,
    DAY_ROWS,
    numbers,
    pending_changes,
    rollup_rows,
)
from tests.support import Tenant

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_delay=timedelta(seconds=2), max_delay=timedelta(hours=1))
ERROR = "DivisionByZeroError: division by zero"


@pytest.fixture
def metrics(app: FastAPI) -> RollupMetrics:
    rollup_metrics: RollupMetrics = app.state.rollup_metrics
    return rollup_metrics


async def run_round(
    sessionmaker: async_sessionmaker[AsyncSession], metrics: RollupMetrics, now: datetime
) -> RefreshResult:
    return await refresh_round(sessionmaker, POLICY, metrics, now)


async def test_a_failing_kpi_holds_up_neither_other_kpis_nor_other_orgs(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders = await seed_orders(client, tenant)  # logged first: the oldest changes
    visits = await seed_visits(client, tenant)
    globex = await create_kpi(client, other_tenant, "orders")
    await send(client, other_tenant, [point("orders", "2026-01-03T00:00:00Z", 7.0)])
    failing_changes = len(await change_states(sessionmaker, orders))
    fail_recompute_of(monkeypatch, orders)
    async with sessionmaker() as session, session.begin():
        result = await refresh(session, now=T0)
    monkeypatch.undo()

    assert result.refreshed == result.claimed - failing_changes > 0
    assert await pending_changes(sessionmaker) == failing_changes
    [failure] = result.failures
    assert (str(failure.kpi_id), failure.org_id) == (orders, tenant.id)
    assert (failure.changes, failure.attempts, failure.parked) == (failing_changes, 1, 0)
    assert failure.error == ERROR
    assert failure.next_attempt_at == T0 + timedelta(seconds=2)
    # The other KPI and the other org advanced; the failing KPI's partial recompute was
    # rolled back with its savepoint, and its changes wait out the delay.
    assert await day_rollup_count(sessionmaker, visits) > 0
    assert await day_rollup_count(sessionmaker, globex) == 1
    assert await day_rollup_count(sessionmaker, orders) == 0
    assert await change_states(sessionmaker, visits) == []
    assert await change_states(sessionmaker, globex) == []
    assert set(await change_states(sessionmaker, orders)) == {
        (1, T0 + timedelta(seconds=2), None, ERROR)
    }

    # Healed, the KPI is still not retried before its time, then refreshed.
    async with sessionmaker() as session, session.begin():
        early = await refresh(session, now=T0 + timedelta(seconds=1))
    assert early == RefreshResult()
    async with sessionmaker() as session, session.begin():
        due = await refresh(session, now=T0 + timedelta(seconds=2))
    assert (due.claimed, due.refreshed, due.failures) == (failing_changes, failing_changes, ())
    assert await day_rollup_count(sessionmaker, orders) == len(DAY_ROWS)


async def test_a_failing_change_backs_off_then_is_parked_logged_and_counted(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    metrics: RollupMetrics,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    orders = await create_kpi(client, tenant, "orders")
    visits = await create_kpi(client, tenant, "visits")
    await send(client, tenant, [point("orders", "2026-01-05T00:00:00Z", 1.0)])
    fail_recompute_of(monkeypatch, orders)
    failures_before = await metric(client, "perfapi_rollup_refresh_failures_total")
    caplog.set_level(logging.WARNING, logger="perfapi.rollups")

    # (seconds after T0, whether the change is due then, its tries after the round)
    schedule = [(0, True, 1), (1, False, 1), (2, True, 2), (5, False, 2), (6, True, 3)]
    schedule += [(14, True, 4), (29, False, 4), (30, True, 5), (86_400 * 30, False, 5)]
    for day, (seconds, due, attempts) in enumerate(schedule, start=1):
        # Meanwhile another KPI of the org gets points, and every round refreshes them.
        await send(client, tenant, [point("visits", f"2026-01-{day:02d}T00:00:00Z", 1.0)])
        result = await run_round(sessionmaker, metrics, T0 + timedelta(seconds=seconds))
        assert result.refreshed == 1, seconds
        assert len(result.failures) == (1 if due else 0), seconds
        assert await day_rollup_count(sessionmaker, visits) == day
        [state] = await change_states(sessionmaker, orders)
        assert state.attempts == attempts, seconds

    # Backoff 2, 4, 8, 16 s; the fifth failure parks the change, no longer claimed.
    [state] = await change_states(sessionmaker, orders)
    assert state == (5, None, T0 + timedelta(seconds=30), ERROR)
    assert await day_rollup_count(sessionmaker, orders) == 0
    assert await metric(client, "perfapi_rollup_refresh_failures_total") == failures_before + 5
    assert await metric(client, "perfapi_rollup_changes_parked") == 1

    logged = [record for record in caplog.records if record.name == "perfapi.rollups"]
    assert [record.levelname for record in logged] == ["WARNING"] * 4 + ["ERROR"]
    assert [record.__dict__["attempts"] for record in logged] == [1, 2, 3, 4, 5]
    assert {str(record.__dict__["kpi_id"]) for record in logged} == {orders}
    assert {record.__dict__["error"] for record in logged} == {ERROR}
    assert logged[0].__dict__["next_attempt_at"] == T0 + timedelta(seconds=2)
    assert "perfapi rollups retry" in logged[-1].getMessage()

    # Retried, the change is due at once with a fresh count of tries.
    monkeypatch.undo()
    async with sessionmaker() as session, session.begin():
        assert await retry_parked(session, tenant.id, "orders") == 1
    [state] = await change_states(sessionmaker, orders)
    assert state == (0, None, None, ERROR)
    result = await run_round(sessionmaker, metrics, T0 + timedelta(days=31))
    assert (result.refreshed, result.failures) == (1, ())
    assert await change_states(sessionmaker, orders) == []
    assert await day_rollup_count(sessionmaker, orders) == 1
    assert await metric(client, "perfapi_rollup_changes_parked") == 0


async def test_reads_stay_exact_for_a_kpi_whose_change_is_parked(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    metrics: RollupMetrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The data and numbers of ``test_rollups``: stale rollups under a parked change."""
    kpi = await seed_orders(client, tenant)
    await run_round(sessionmaker, metrics, T0)
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == DAY_ROWS
    await send(
        client,
        tenant,
        [
            point("orders", "2026-01-07T00:00:00Z", 40.0, region="eu"),
            point("orders", "2026-01-20T00:00:00Z", 55.0, region="eu"),
        ],
    )
    response = await client.delete(
        f"/v1/kpis/{kpi}/points",
        headers=tenant.headers,
        params={"from": "2026-01-08T00:00:00Z", "to": "2026-01-09T00:00:00Z"},
    )
    assert response.status_code == 200, response.text

    fail_recompute_of(monkeypatch, kpi)
    now = T0
    for _ in range(POLICY.max_attempts):
        now += timedelta(hours=1)
        await run_round(sessionmaker, metrics, now)
    states = await change_states(sessionmaker, kpi)
    assert states
    assert all(state.parked_at is not None for state in states)
    # Every failed recompute was rolled back: the rollups are the old ones, and stale.
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == DAY_ROWS
    assert await numbers(client, tenant, kpi) == CHANGED

    monkeypatch.undo()
    async with sessionmaker() as session, session.begin():
        assert await retry_parked(session, None, None) == len(states)
    await run_round(sessionmaker, metrics, now)
    assert await pending_changes(sessionmaker) == 0
    assert await rollup_rows(sessionmaker, "kpi_day_rollups", "day", kpi) == CHANGED_DAY_ROWS
    assert await numbers(client, tenant, kpi) == CHANGED


async def test_a_batch_recomputes_few_enough_ranges_for_its_savepoints_oldest_first(
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    metrics: RollupMetrics,
) -> None:
    """Each range is a savepoint: a batch stops short of PostgreSQL's 64 cached
    subtransactions and leaves the rest due for the next batch, the newest ones."""
    # KPIs without points recompute to nothing; the oldest change has the highest KPI id.
    kpis = sorted((uuid4() for _ in range(MAX_RANGES_PER_BATCH + 10)), reverse=True)
    async with sessionmaker() as session, session.begin():
        for kpi in kpis:
            await record_changes(session, tenant.id, [kpi], date(2026, 1, 1), date(2026, 1, 1))
    async with sessionmaker() as session, session.begin():
        first = await refresh(session, now=T0)
    assert (first.claimed, first.refreshed, first.deferred) == (len(kpis), MAX_RANGES_PER_BATCH, 10)
    async with sessionmaker() as session:
        left = await session.scalars(text("SELECT kpi_id FROM rollup_changes"))
        assert set(left) == set(kpis[-10:])
    rest = await run_round(sessionmaker, metrics, T0)
    assert (rest.claimed, rest.refreshed, rest.deferred) == (10, 10, 0)
    assert await pending_changes(sessionmaker) == 0


async def test_concurrent_refreshers_skip_each_others_changes(
    tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpis = [uuid4() for _ in range(3)]
    async with sessionmaker() as session, session.begin():
        for kpi in kpis:
            await record_changes(session, tenant.id, [kpi], date(2026, 1, 1), date(2026, 1, 1))
    async with sessionmaker() as one, one.begin():
        held = await refresh(one, now=T0, limit=1)  # holds the oldest change until commit
        async with sessionmaker() as other, other.begin():
            rest = await refresh(other, now=T0)
    assert (held.claimed, held.refreshed, rest.claimed, rest.refreshed) == (1, 1, 2, 2)
    assert await pending_changes(sessionmaker) == 0


def test_backoff_doubles_up_to_its_cap_and_follows_the_settings() -> None:
    policy = RetryPolicy.from_settings(
        Settings(rollup_max_attempts=3, rollup_retry_base_seconds=2, rollup_retry_max_seconds=10)
    )
    assert policy.max_attempts == 3
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 10_000)] == [
        2,
        4,
        8,
        10,
        10,
        10,
    ]
