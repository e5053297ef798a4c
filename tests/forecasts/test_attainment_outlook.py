"""Attainment's outlook: the period's likely end under the KPI's forecasting model."""

import httpx
import pytest

from tests.forecasts.helpers import daily_kpi, daily_value, day_after
from tests.support import Tenant, created

Q1 = {"period_start": "2026-01-01", "period_end": "2026-03-31"}  # START is Jan 5


async def attainment(client: httpx.AsyncClient, tenant: Tenant, kpi: str, as_of: str) -> dict:
    response = await client.get(f"/v1/kpis/{kpi}/attainment?as_of={as_of}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


@pytest.mark.parametrize(
    ("target", "probability"), [(1_000.0, 1.0), (10_270.0, None), (100_000.0, 0.0)]
)
async def test_a_sum_is_expected_to_end_near_its_trend(
    client: httpx.AsyncClient, tenant: Tenant, target: float, probability: float | None
) -> None:
    kpi = await daily_kpi(client, tenant, 40)
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", Q1 | {"value": target})
    body = await attainment(client, tenant, kpi, day_after(40))
    outlook = body["outlook"]
    assert outlook["method"] == "seasonal"
    # 40 days done (Feb 13), 46 to go at about 130 a day (the trend climbs 0.5 a day).
    so_far = sum(daily_value(day) for day in range(40))
    assert so_far + 46 * 115 < outlook["value"] < so_far + 46 * 145
    assert outlook["lower"] < outlook["value"] < outlook["upper"]
    if probability is None:
        assert 0 < outlook["probability"] < 1
    else:
        assert outlook["probability"] == probability


async def test_lower_is_better_counts_ending_at_or_below_the_target(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 40, aggregation="avg")
    patched = await client.patch(
        f"/v1/kpis/{kpi}", headers=tenant.headers, json={"direction": "lower_is_better"}
    )
    assert patched.status_code == 200, patched.text
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", Q1 | {"value": 1_000.0})
    outlook = (await attainment(client, tenant, kpi, day_after(40)))["outlook"]
    assert outlook["probability"] == 1.0  # an average near 120 stays below 1,000
    assert 100 < outlook["value"] < 160


async def test_a_period_that_is_over_has_a_certain_outlook(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 20)
    await created(
        client,
        tenant,
        f"/v1/kpis/{kpi}/targets",
        {"period_start": "2026-01-01", "period_end": "2026-01-14", "value": 500},
    )
    body = await attainment(client, tenant, kpi, "2026-01-14")
    outlook = body["outlook"]
    # as_of is the period's last instant: its last day is still forecast whole.
    assert outlook["method"] is not None
    past = await client.get(
        f"/v1/kpis/{kpi}/attainment?period_start=2026-01-01&period_end=2026-01-14&as_of=2026-02-01",
        headers=tenant.headers,
    )
    done = past.json()["outlook"]
    assert done["method"] is None
    assert done["value"] == done["lower"] == done["upper"] == past.json()["actual"]
    assert done["probability"] == 1.0


async def test_too_little_history_has_no_outlook(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 2)
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", Q1 | {"value": 100})
    assert (await attainment(client, tenant, kpi, day_after(2)))["outlook"] is None


async def test_the_outlook_as_of_the_past_ignores_later_points(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 30)
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", Q1 | {"value": 10_000})
    before = await attainment(client, tenant, kpi, day_after(30))
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "sales.daily", "ts": f"{day_after(31)}T12:00:00Z", "value": 1e6}]},
    )
    assert sent.status_code in (200, 201)
    after = await attainment(client, tenant, kpi, day_after(30))
    assert after == before
