"""GET /v1/kpis/{id}/attainment: pace, status and forecast against a target period.

Data (dataset module): revenue (sum) 200 on 01-10, 300 on 02-15, 400 on 03-31
23:59:59, 500 on 04-01, targets Q1 1000 (90 days) and Q2 2000 (91 days); nps (avg)
30, 36, 45 on January days 0, 10, 20, target 50 for 01-01..01-30 and for March;
churn (avg, lower_is_better) 6, 4, 2 on Q1 days 15, 45, 75, target 5 for Q1.
"""

from typing import Any

import httpx

from tests.reports.dataset import Strategy, get_json, near
from tests.support import Tenant, assert_problem, error_locs


async def attainment(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str, **params: str
) -> dict[str, Any]:
    body: dict[str, Any] = await get_json(client, tenant, f"/v1/kpis/{kpi_id}/attainment", params)
    return body


def numbers(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("elapsed_fraction", "actual", "expected_to_date", "pace", "forecast")
    return {key: body[key] for key in (*keys, "forecast_attainment", "status")}


async def test_sum_kpi_inside_the_period(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kpi = strategy.kpis["revenue"]
    body = await attainment(client, tenant, kpi, as_of="2026-02-15T00:00:00Z")
    assert body["kpi_id"] == kpi
    assert (body["aggregation"], body["direction"]) == ("sum", "higher_is_better")
    assert (body["period_start"], body["period_end"], body["target"]) == (
        "2026-01-01",
        "2026-03-31",
        1000.0,
    )
    assert body["as_of"] == "2026-02-15T00:00:00Z"
    # f = 45 / 90 days; actual 200 + 300 (the 300 is at as_of); expected 1000 * 0.5.
    assert numbers(body) == {
        "elapsed_fraction": near(0.5),
        "actual": 500.0,
        "expected_to_date": near(500.0),
        "pace": near(1.0),
        "forecast": near(1000.0),  # 500 / 0.5
        "forecast_attainment": near(1.0),
        "status": "on_track",
    }
    # f = 48 / 90; expected 533.33; pace 500 / 533.33 = 0.9375; forecast 500 / (48 / 90).
    body = await attainment(client, tenant, kpi, as_of="2026-02-18T00:00:00Z")
    assert numbers(body) == {
        "elapsed_fraction": near(48 / 90),
        "actual": 500.0,
        "expected_to_date": near(1000 * 48 / 90),
        "pace": near(0.9375),
        "forecast": near(937.5),
        "forecast_attainment": near(0.9375),
        "status": "at_risk",
    }
    # f = 44 / 90; actual 200; pace 200 * 90 / 44000 = 0.40909...; forecast 200 * 90 / 44.
    body = await attainment(client, tenant, kpi, as_of="2026-02-14T00:00:00Z")
    assert numbers(body) == {
        "elapsed_fraction": near(44 / 90),
        "actual": 200.0,
        "expected_to_date": near(1000 * 44 / 90),
        "pace": near(18000 / 44000),
        "forecast": near(18000 / 44),
        "forecast_attainment": near(18 / 44),
        "status": "off_track",
    }


async def test_default_period_and_explicit_period(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kpi = strategy.kpis["revenue"]
    # As of 2026-05-01 the period containing as_of is Q2: f = 30 / 91, actual 500 (04-01),
    # expected 2000 * 30 / 91, pace 500 * 91 / 60000, forecast 500 * 91 / 30.
    body = await attainment(client, tenant, kpi, as_of="2026-05-01T00:00:00Z")
    assert (body["period_start"], body["period_end"], body["target"]) == (
        "2026-04-01",
        "2026-06-30",
        2000.0,
    )
    assert numbers(body) == {
        "elapsed_fraction": near(30 / 91),
        "actual": 500.0,
        "expected_to_date": near(60000 / 91),
        "pace": near(45500 / 60000),
        "forecast": near(45500 / 30),
        "forecast_attainment": near(45500 / 60000),
        "status": "off_track",
    }
    # Q1 asked for explicitly, as of after its end: f = 1; actual 200 + 300 + 400 (the 500
    # at 04-01T00:00Z is past the period end); pace 900 / 1000 = 0.9 is still at risk.
    body = await attainment(
        client,
        tenant,
        kpi,
        as_of="2026-05-01T00:00:00Z",
        period_start="2026-01-01",
        period_end="2026-03-31",
    )
    assert (body["period_start"], body["period_end"], body["target"]) == (
        "2026-01-01",
        "2026-03-31",
        1000.0,
    )
    assert numbers(body) == {
        "elapsed_fraction": 1.0,
        "actual": 900.0,
        "expected_to_date": near(1000.0),
        "pace": near(0.9),
        "forecast": near(900.0),
        "forecast_attainment": near(0.9),
        "status": "at_risk",
    }


async def test_avg_kpi_forecasts_the_least_squares_line(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kpi = strategy.kpis["nps"]
    # Points (day, value): (0, 30), (10, 36), (20, 45); mean day 10, mean value 37.
    # slope = sum(dx * dy) / sum(dx^2) = (-10 * -7 + 0 * -1 + 10 * 8) / (100 + 0 + 100)
    #       = 150 / 200 = 0.75 per day; at the period end (day 30): 37 + 0.75 * 20 = 52.
    body = await attainment(client, tenant, kpi, as_of="2026-01-25T00:00:00Z")
    assert (body["period_start"], body["period_end"], body["target"]) == (
        "2026-01-01",
        "2026-01-30",
        50.0,
    )
    assert body["aggregation"] == "avg"
    assert numbers(body) == {
        "elapsed_fraction": near(24 / 30),
        "actual": near(37.0),  # avg(30, 36, 45); 0 on 12-31 is before the period
        "expected_to_date": 50.0,  # a level: the target itself
        "pace": near(37 / 50),
        "forecast": near(52.0),
        "forecast_attainment": near(52 / 50),
        "status": "off_track",
    }
    # After the period: the 1000 at 2026-01-31T00:00Z is past its end and changes nothing.
    body = await attainment(
        client,
        tenant,
        kpi,
        as_of="2026-02-05",
        period_start="2026-01-01",
        period_end="2026-01-30",
    )
    assert (body["elapsed_fraction"], body["actual"], body["forecast"]) == (
        1.0,
        near(37.0),
        near(52.0),
    )


async def test_lower_is_better(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kpi = strategy.kpis["churn"]
    # Points on the line y = 6 - (day - 15) / 15; at the period end (day 90): 6 - 5 = 1.
    body = await attainment(client, tenant, kpi, as_of="2026-03-31T00:00:00Z")
    assert body["direction"] == "lower_is_better"
    assert numbers(body) == {
        "elapsed_fraction": near(89 / 90),
        "actual": near(4.0),  # avg(6, 4, 2)
        "expected_to_date": 5.0,
        "pace": near(1.25),  # expected / actual = 5 / 4
        "forecast": near(1.0),
        "forecast_attainment": near(5.0),  # target / forecast = 5 / 1
        "status": "on_track",
    }
    # One point (6 on 01-16): the forecast is that value; pace 5 / 6.
    body = await attainment(client, tenant, kpi, as_of="2026-01-20T00:00:00Z")
    assert numbers(body) == {
        "elapsed_fraction": near(19 / 90),
        "actual": 6.0,
        "expected_to_date": 5.0,
        "pace": near(5 / 6),
        "forecast": 6.0,
        "forecast_attainment": near(5 / 6),
        "status": "off_track",
    }


async def test_no_data(client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy) -> None:
    # nps has a March target and no March points.
    body = await attainment(client, tenant, strategy.kpis["nps"], as_of="2026-03-11T00:00:00Z")
    assert (body["period_start"], body["period_end"]) == ("2026-03-01", "2026-03-31")
    assert numbers(body) == {
        "elapsed_fraction": near(10 / 31),
        "actual": None,
        "expected_to_date": 50.0,
        "pace": None,
        "forecast": None,
        "forecast_attainment": None,
        "status": "no_data",
    }


async def test_no_target_period_is_404(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    revenue = strategy.kpis["revenue"]
    path = f"/v1/kpis/{revenue}/attainment"
    after = await client.get(path, headers=tenant.headers, params={"as_of": "2026-07-15"})
    assert_problem(after, 404, "not-found")
    other_period = {"period_start": "2026-01-01", "period_end": "2026-03-30"}
    assert_problem(await client.get(path, headers=tenant.headers, params=other_period), 404)
    uptime = f"/v1/kpis/{strategy.kpis['uptime']}/attainment"  # no targets at all
    assert_problem(await client.get(uptime, headers=tenant.headers), 404)


async def test_half_a_period_is_422(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    path = f"/v1/kpis/{strategy.kpis['revenue']}/attainment"
    response = await client.get(path, headers=tenant.headers, params={"period_start": "2026-01-01"})
    assert error_locs(assert_problem(response, 422, "validation-error")) == [
        ["query", "period_end"]
    ]
    response = await client.get(path, headers=tenant.headers, params={"period_end": "2026-03-31"})
    assert error_locs(assert_problem(response, 422, "validation-error")) == [
        ["query", "period_start"]
    ]
