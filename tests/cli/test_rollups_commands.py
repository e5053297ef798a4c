"""``perfapi rollups parked`` and ``perfapi rollups retry`` as real commands."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.rollups.service import RetryPolicy
from perfapi.rollups.worker import refresh_round
from tests.cli.processes import perfapi_env, run_cli
from tests.reports.dataset import create_kpi, point, send
from tests.reports.failures import change_states, fail_recompute_of
from tests.support import Tenant

NOW = datetime(2026, 2, 1, tzinfo=UTC)
PARK_AT_ONCE = RetryPolicy(max_attempts=1)


async def test_parked_changes_are_listed_and_retried(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kpis = {}
    for org in (tenant, other_tenant):
        kpis[org.name] = await create_kpi(client, org, "orders")
        await send(client, org, [point("orders", "2026-01-05T00:00:00Z", 1.0)])
    fail_recompute_of(monkeypatch, *kpis.values())
    await refresh_round(sessionmaker, PARK_AT_ONCE, app.state.rollup_metrics, NOW)
    env = perfapi_env(PERFAPI_DATABASE_URL=database_url)

    code, out, err = await run_cli("rollups", "parked", "--json", env=env)
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(row["org_name"], row["kpi_key"]) for row in listed] == [
        ("acme", "orders"),
        ("globex", "orders"),
    ]
    assert listed[0] | {"id": None} == {
        "org_name": "acme",
        "org_id": str(tenant.id),
        "kpi_key": "orders",
        "kpi_id": kpis["acme"],
        "id": None,
        "first_day": "2026-01-05",
        "last_day": "2026-01-05",
        "attempts": 1,
        "parked_at": str(NOW),
        "last_error": "DivisionByZeroError: division by zero",
    }
    code, out, _ = await run_cli("rollups", "parked", env=env)
    assert code == 0
    assert "acme" in out
    assert "globex" in out
    assert "2026-01-05" in out
    code, out, _ = await run_cli("rollups", "parked", "--limit", "1", env=env)
    assert "globex" not in out
    assert "1 of 2 shown" in out
    code, out, _ = await run_cli("rollups", "parked", "--org", "globex", "--json", env=env)
    assert [json.loads(line)["org_name"] for line in out.splitlines()] == ["globex"]

    for wrong, complaint in [
        ((), "either --org"),
        (("--all", "--org", "acme"), "either --org"),
        (("--kpi", "orders"), "--kpi needs --org"),
        (("--org", "nope"), "No org named 'nope'"),
    ]:
        code, _, err = await run_cli("rollups", "retry", *wrong, env=env)
        assert code == 1, wrong
        assert complaint in err, err

    code, out, _ = await run_cli("rollups", "retry", "--org", "acme", "--kpi", "orders", env=env)
    assert code == 0
    assert "1 parked rollup change(s) queued for retry" in out
    [state] = await change_states(sessionmaker, kpis["acme"])
    assert (state.attempts, state.next_attempt_at, state.parked_at) == (0, None, None)
    code, out, _ = await run_cli("rollups", "parked", "--json", env=env)
    assert [json.loads(line)["org_name"] for line in out.splitlines()] == ["globex"]

    # The retried change is refreshed by the next round; globex's stays parked.
    monkeypatch.undo()
    result = await refresh_round(
        sessionmaker, PARK_AT_ONCE, app.state.rollup_metrics, NOW + timedelta(seconds=1)
    )
    assert (result.refreshed, result.failures) == (1, ())
    assert await change_states(sessionmaker, kpis["acme"]) == []

    code, out, _ = await run_cli("rollups", "retry", "--all", env=env)
    assert "1 parked rollup change(s) queued for retry" in out
    code, out, _ = await run_cli("rollups", "parked", env=env)
    assert code == 0
    assert "no parked rollup changes" in out
