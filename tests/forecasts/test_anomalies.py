import httpx

from tests.forecasts.helpers import daily_kpi, daily_value, day_after
from tests.support import Tenant, assert_problem, created


def anomalies_url(kpi: str, start: str, end: str, **params: object) -> str:
    query = "".join(f"&{name}={value}" for name, value in params.items())
    return f"/v1/kpis/{kpi}/anomalies?from={start}&to={end}{query}"


async def test_a_spike_and_a_dip_are_found_and_nothing_else(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    overrides = {40: daily_value(40) + 60, 47: daily_value(47) - 60}
    kpi = await daily_kpi(client, tenant, 56, overrides=overrides)
    response = await client.get(
        anomalies_url(kpi, day_after(0), day_after(56), as_of=day_after(56)),
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == 0.99
    assert body["method"] == "seasonal"
    assert body["history"] == 56
    found = {item["start"][:10]: item for item in body["items"]}
    assert day_after(40) in found
    assert day_after(47) in found
    assert found[day_after(40)]["direction"] == "above"
    assert found[day_after(47)]["direction"] == "below"
    assert len(found) <= 4  # a surprise may ripple into the day after, not further
    spike = found[day_after(40)]
    assert spike["value"] > spike["upper"]
    assert spike["lower"] < spike["expected"] < spike["upper"]
    assert spike["score"] > 3


async def test_the_range_limits_the_items_and_early_buckets_are_not_judged(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    overrides = {3: daily_value(3) + 200, 40: daily_value(40) + 60}
    kpi = await daily_kpi(client, tenant, 56, overrides=overrides)
    inside = await client.get(
        anomalies_url(kpi, day_after(35), day_after(42), as_of=day_after(56)),
        headers=tenant.headers,
    )
    starts = [item["start"][:10] for item in inside.json()["items"]]
    assert day_after(40) in starts
    assert all(day_after(35) <= start < day_after(42) for start in starts)
    # Day 3 has fewer than 8 days before it: never judged, however odd.
    early = await client.get(
        anomalies_url(kpi, day_after(0), day_after(8), as_of=day_after(56)),
        headers=tenant.headers,
    )
    assert early.json()["items"] == []


async def test_too_little_history_has_no_items(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 2)
    response = await client.get(
        anomalies_url(kpi, day_after(0), day_after(5), as_of=day_after(2)), headers=tenant.headers
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["method"] is None


async def test_later_points_do_not_change_an_answer_as_of_the_past(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 50, overrides={40: daily_value(40) + 60})
    url = anomalies_url(kpi, day_after(30), day_after(60), as_of=day_after(45))
    before = (await client.get(url, headers=tenant.headers)).json()
    sent = await client.post(
        "/v1/points",
        headers=tenant.headers,
        json={"points": [{"kpi": "sales.daily", "ts": f"{day_after(46)}T12:00:00Z", "value": 1e6}]},
    )
    assert sent.status_code in (200, 201)
    after = (await client.get(url, headers=tenant.headers)).json()
    assert after == before
    assert day_after(40) in [item["start"][:10] for item in before["items"]]


async def test_anomalies_export_and_bad_input(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 56, overrides={40: daily_value(40) + 60})
    csv_answer = await client.get(
        anomalies_url(kpi, day_after(0), day_after(56), as_of=day_after(56), format="csv"),
        headers=tenant.headers,
    )
    assert csv_answer.status_code == 200
    header = csv_answer.text.splitlines()[0]
    assert header == "start,value,expected,lower,upper,score,direction"
    assert day_after(40) in csv_answer.text
    for url in (
        f"/v1/kpis/{kpi}/anomalies?from={day_after(0)}",
        anomalies_url(kpi, day_after(10), day_after(5)),
        anomalies_url(kpi, day_after(0), day_after(5), interval="year"),
        anomalies_url(kpi, "yesterday", day_after(5)),
        anomalies_url(kpi, "1990-01-01", "2020-01-01"),  # 10,957 days
    ):
        assert_problem(await client.get(url, headers=tenant.headers), 422)


async def test_a_level_measured_weekly_is_judged_on_its_measurements(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Days between two weekly measurements repeat the last one: they are not judged,
    and their exact repeats do not shrink the spread a new measurement is judged by."""
    kpi = await created(
        client,
        tenant,
        "/v1/kpis",
        {"key": "engagement", "name": "Engagement", "aggregation": "avg"},
    )
    wobble = [0.0, 0.6, -0.4, 0.9, -0.7, 0.3, -0.2, 0.5, -0.8, 0.1]
    weeks = [70 + 0.1 * week + wobble[week % len(wobble)] for week in range(20)] + [78.0]
    points = [
        {"kpi": "engagement", "ts": f"{day_after(7 * week)}T09:00:00Z", "value": value}
        for week, value in enumerate(weeks)
    ]
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert sent.status_code in (200, 201), sent.text
    response = await client.get(
        anomalies_url(kpi, day_after(0), day_after(141), as_of=day_after(141)),
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    found = [(item["start"][:10], item["direction"]) for item in response.json()["items"]]
    assert found == [(day_after(140), "above")]  # the jump to 78, and nothing else
