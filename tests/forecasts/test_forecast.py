import csv
import io

import httpx
import pytest

from tests.forecasts.helpers import daily_kpi, daily_value, day_after
from tests.support import Tenant, assert_problem


def forecast_url(kpi: str, **params: object) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"/v1/kpis/{kpi}/forecast?{query}"


async def test_a_weekly_pattern_is_forecast_by_the_seasonal_model(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 56)
    # as_of on day 56 (no point yet): 56 complete days of history.
    response = await client.get(
        forecast_url(kpi, as_of=day_after(56), horizon=14, level=0.9), headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "seasonal"
    assert body["history"] == 56
    assert body["interval"] == "day"
    assert body["tz"] == "UTC"
    assert body["level"] == 0.9
    buckets = body["buckets"]
    assert len(buckets) == 14
    assert buckets[0]["start"] == f"{day_after(56)}T00:00:00Z"
    assert buckets[13]["start"] == f"{day_after(69)}T00:00:00Z"
    errors = []
    for offset, bucket in enumerate(buckets):
        assert bucket["lower"] < bucket["value"] < bucket["upper"]
        errors.append(abs(bucket["value"] - daily_value(56 + offset)))
    assert sum(errors) / len(errors) < 5  # the weekly swing is +-20: it was followed


async def test_as_of_in_the_past_ignores_later_points(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    short = await daily_kpi(client, tenant, 30, key="sales.short")
    long = await daily_kpi(client, tenant, 60, key="sales.long")
    answers = [
        (
            await client.get(
                forecast_url(kpi, as_of=day_after(30), horizon=5), headers=tenant.headers
            )
        ).json()
        for kpi in (short, long)
    ]
    for answer in answers:
        answer.pop("kpi_id")
    assert answers[0] == answers[1]
    assert answers[0]["history"] == 30


@pytest.mark.parametrize(
    ("days", "method", "expected"),
    [
        (3, None, "naive"),
        (5, None, "naive"),
        (6, None, "trend"),
        (13, None, "trend"),
        (14, None, "seasonal"),
        (20, "trend", "trend"),
        (20, "naive", "naive"),
    ],
)
async def test_the_method_follows_the_history_unless_named(
    client: httpx.AsyncClient, tenant: Tenant, days: int, method: str | None, expected: str
) -> None:
    kpi = await daily_kpi(client, tenant, days)
    params: dict[str, object] = {"as_of": day_after(days)}
    if method:
        params["method"] = method
    response = await client.get(forecast_url(kpi, **params), headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["method"] == expected
    assert response.json()["history"] == days


@pytest.mark.parametrize(
    ("days", "method", "loc"),
    [
        (0, None, "interval"),
        (2, None, "interval"),
        (5, "trend", "method"),
        (13, "seasonal", "method"),
    ],
)
async def test_too_little_history_is_422(
    client: httpx.AsyncClient, tenant: Tenant, days: int, method: str | None, loc: str
) -> None:
    kpi = await daily_kpi(client, tenant, days)
    params: dict[str, object] = {"as_of": day_after(days)}
    if method:
        params["method"] = method
    response = await client.get(forecast_url(kpi, **params), headers=tenant.headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["type"] == "too_little_history"
    assert body["errors"][0]["loc"] == ["query", loc]


async def test_weeks_and_months_and_empty_days(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 70)
    weekly = await client.get(
        forecast_url(kpi, as_of=day_after(70), interval="week", horizon=3), headers=tenant.headers
    )
    assert weekly.status_code == 200, weekly.text
    assert weekly.json()["history"] == 10  # ten whole ISO weeks from Monday START
    assert weekly.json()["buckets"][0]["start"] == f"{day_after(70)}T00:00:00Z"
    # Days without points count as 0 for a sum: the history runs from the first point on.
    later = await client.get(forecast_url(kpi, as_of=day_after(80)), headers=tenant.headers)
    assert later.json()["history"] == 80
    monthly = await client.get(
        forecast_url(kpi, as_of=day_after(70), interval="month"), headers=tenant.headers
    )
    assert_problem(monthly, 422)  # January and February only: two months


@pytest.mark.parametrize(
    "query",
    [
        "horizon=0",
        "horizon=367",
        "level=0",
        "level=1",
        "level=1.5",
        "interval=hour",
        "method=arima",
        "tz=Mars/Base",
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, tenant: Tenant, query: str
) -> None:
    kpi = await daily_kpi(client, tenant, 10)
    response = await client.get(f"/v1/kpis/{kpi}/forecast?{query}", headers=tenant.headers)
    assert_problem(response, 422)


async def test_exports_list_the_buckets(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 21)
    response = await client.get(
        forecast_url(kpi, as_of=day_after(21), horizon=4, format="csv"), headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["start"] == f"{day_after(21)}T00:00:00Z"
    assert len(rows) == 4
    assert set(rows[0]) == {"start", "value", "lower", "upper"}


async def test_another_orgs_kpi_is_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 10)
    response = await client.get(forecast_url(kpi), headers=other_tenant.headers)
    assert_problem(response, 404)
    anomalies = await client.get(
        f"/v1/kpis/{kpi}/anomalies?from=2026-01-01&to=2026-02-01", headers=other_tenant.headers
    )
    assert_problem(anomalies, 404)


async def test_dimension_filters_pick_the_series(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 10)
    response = await client.get(
        forecast_url(kpi, as_of=day_after(10), **{"dim.region": "emea"}), headers=tenant.headers
    )
    assert_problem(response, 422)  # no point has that dimension: no history at all


async def test_a_forecast_as_of_now_has_no_tag_and_one_as_of_a_date_has(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 10)
    now = await client.get(forecast_url(kpi), headers=tenant.headers)
    assert now.status_code == 200, now.text  # history up to today: the 10 days and empty days
    assert "etag" not in now.headers
    dated = await client.get(forecast_url(kpi, as_of=day_after(10)), headers=tenant.headers)
    assert dated.headers["etag"].startswith('"')
    again = await client.get(
        forecast_url(kpi, as_of=day_after(10)),
        headers=tenant.headers | {"If-None-Match": dated.headers["etag"]},
    )
    assert again.status_code == 304


@pytest.mark.parametrize("method", ["naive", "trend", "seasonal"])
@pytest.mark.parametrize("level", ["0.9999999999999999", "1e-300"])
async def test_levels_at_the_edges_answer_finite_intervals(
    client: httpx.AsyncClient, tenant: Tenant, method: str, level: str
) -> None:
    kpi = await daily_kpi(client, tenant, 21)
    response = await client.get(
        forecast_url(kpi, as_of=day_after(21), method=method, level=level, tz="Europe/Berlin"),
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    assert all(b["lower"] <= b["value"] <= b["upper"] for b in response.json()["buckets"])
