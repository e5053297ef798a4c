"""Fitted models are kept under their KPI's points version: reused, never stale."""

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.forecasts.cache import MODELS
from perfapi.rollups.service import refresh
from tests.forecasts.helpers import daily_kpi, day_after
from tests.support import Tenant

AS_OF = day_after(40)


async def versions(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(text("SELECT kpi_id, version FROM kpi_point_versions"))
        return {str(kpi_id): version for kpi_id, version in rows}


async def forecast(client: httpx.AsyncClient, tenant: Tenant, kpi: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/kpis/{kpi}/forecast", headers=tenant.headers, params={"as_of": AS_OF}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_write_gives_only_its_kpis_a_new_points_version(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await daily_kpi(client, tenant, 10, key="first")
    second = await daily_kpi(client, tenant, 10, key="second")
    before = await versions(sessionmaker)
    assert set(before) == {first, second}
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "first", "ts": "2026-01-06T18:00:00Z", "value": 5}]},
    )
    assert sent.status_code in (200, 201), sent.text
    after = await versions(sessionmaker)
    assert after[first] > before[first]
    assert after[second] == before[second]
    deleted = await client.delete(
        f"/v1/kpis/{second}/points",
        headers=tenant.headers,
        params={"from": "2026-01-05", "to": "2026-01-06"},
    )
    assert deleted.status_code == 200, deleted.text
    assert (await versions(sessionmaker))[second] > after[second]


async def test_a_forecast_is_fitted_once_and_refitted_after_its_points_change(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 41)
    misses = MODELS.misses
    first = await forecast(client, tenant, kpi)
    assert MODELS.misses == misses + 1
    hits = MODELS.hits
    assert await forecast(client, tenant, kpi) == first
    assert MODELS.hits == hits + 1
    # A point inside the history: the next forecast is fitted to it, never the kept one.
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "sales.daily", "ts": "2026-02-12T18:00:00Z", "value": 500}]},
    )
    assert sent.status_code in (200, 201), sent.text
    changed = await forecast(client, tenant, kpi)
    assert MODELS.misses == misses + 2
    assert changed["buckets"] != first["buckets"]
    # Anomalies of the same history reuse the model the forecast fitted.
    hits = MODELS.hits
    response = await client.get(
        f"/v1/kpis/{kpi}/anomalies",
        headers=tenant.headers,
        params={"from": "2026-02-01", "to": "2026-02-14", "as_of": AS_OF},
    )
    assert response.status_code == 200, response.text
    assert MODELS.hits == hits + 1
    spikes = [item for item in response.json()["items"] if item["direction"] == "above"]
    assert [item["start"] for item in spikes] == ["2026-02-12T00:00:00Z"]


async def test_a_cold_cache_still_answers(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 41)
    warm = await forecast(client, tenant, kpi)
    MODELS.clear()
    assert await forecast(client, tenant, kpi) == warm


async def test_days_of_utc_read_from_day_rollups_match_the_bucket_by_bucket_read(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """UTC days are read per day from the rollups (or raw points on days with pending
    changes); any other zone bucket by bucket. Etc/UTC has UTC's days by the other path."""
    kpis = {
        aggregation: await daily_kpi(client, tenant, 41, key=aggregation, aggregation=aggregation)
        for aggregation in ("sum", "avg", "last", "min", "max", "count")
    }
    regional = [
        {"kpi": "sum", "ts": f"2026-02-0{d}T0{d}:00:00Z", "value": 10 * d, "dimensions": {"r": r}}
        for d in range(1, 8)
        for r in ("emea", "amer")
    ]
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": regional})
    assert sent.status_code in (200, 201), sent.text

    async def both(kpi: str, **params: str) -> None:
        answers = []
        for tz in ("UTC", "Etc/UTC"):
            response = await client.get(
                f"/v1/kpis/{kpi}/forecast",
                headers=tenant.headers,
                params={"as_of": AS_OF, "tz": tz, "horizon": "3", **params},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            answers.append((body["history"], body["method"], body["buckets"]))
        assert answers[0] == answers[1]

    for kpi in kpis.values():
        await both(kpi)  # every day pending: raw points
    await both(kpis["sum"], **{"dim.r": "emea"})
    async with sessionmaker() as session, session.begin():
        assert (await refresh(session)).claimed > 0
    MODELS.clear()  # a refresh changes no point: the kept models would answer
    for kpi in kpis.values():
        await both(kpi)  # from the day rollups
    await both(kpis["sum"], **{"dim.r": "emea"})
