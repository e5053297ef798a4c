"""Dates and instants outside 1900-01-01 .. 2999-12-31 (UTC) are a 422 everywhere,
never a 500 from arithmetic past Python's year 9999; the edges themselves work."""

from typing import Any

import httpx
import pytest

from tests.support import Tenant, assert_problem, error_locs, one_of_each

SPAN = "between 1900-01-01 and 2999-12-31 (UTC)"
OBJECTIVE = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}


@pytest.fixture
async def ids(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    return await one_of_each(client, tenant)


BODIES = [
    pytest.param(
        "POST",
        "/v1/objectives",
        OBJECTIVE | {"due_date": "9999-12-31"},
        ["body", "due_date"],
        id="objective-due-9999",
    ),
    pytest.param(
        "POST",
        "/v1/objectives",
        OBJECTIVE | {"start_date": "1899-12-31"},
        ["body", "start_date"],
        id="objective-start-1899",
    ),
    pytest.param(
        "PATCH",
        "/v1/objectives/{objective}",
        {"due_date": "3000-01-01"},
        ["body", "due_date"],
        id="objective-patch-3000",
    ),
    pytest.param(
        "POST",
        "/v1/kpis/{kpi}/targets",
        {"period_start": "2999-01-01", "period_end": "9999-12-31", "value": 1},
        ["body", "period_end"],
        id="target-9999",
    ),
    pytest.param(
        "POST",
        "/v1/key-results/{key_result}/check-ins",
        {"value": 1, "at": "2999-12-31T23:00:00-05:00"},  # 3000-01-01T04:00Z
        ["body", "at"],
        id="check-in-past-2999-in-utc",
    ),
    pytest.param(
        "POST",
        "/v1/api-keys",
        {"name": "k", "scopes": ["read"], "expires_at": "9999-12-31T23:59:59-14:00"},
        ["body", "expires_at"],
        id="api-key-expiry-9999",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "loc"), BODIES)
async def test_out_of_range_bodies_are_422(
    client: httpx.AsyncClient,
    tenant: Tenant,
    ids: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    loc: list[str],
) -> None:
    response = await client.request(method, path.format(**ids), headers=tenant.headers, json=body)
    problem = assert_problem(response, 422)
    assert error_locs(problem) == [loc]
    assert SPAN in problem["errors"][0]["message"]
    # Nothing was written: the objective, target and check-in lists are as before.
    for listing in (
        "/v1/objectives",
        f"/v1/kpis/{ids['kpi']}/targets",
        f"/v1/key-results/{ids['key_result']}/check-ins",
    ):
        items = (await client.get(listing, headers=tenant.headers)).json()["items"]
        assert len(items) == (1 if listing == "/v1/objectives" else 0), listing
    objective = await client.get(f"/v1/objectives/{ids['objective']}", headers=tenant.headers)
    assert objective.json()["due_date"] == OBJECTIVE["due_date"]


QUERIES = [
    pytest.param("/v1/objectives", {"as_of": "9999-12-31"}, "as_of", id="as-of-date-9999"),
    pytest.param(
        "/v1/objectives/{objective}",
        {"as_of": "9999-12-31T23:59:59.999999Z"},
        "as_of",
        id="as-of-instant-9999",
    ),
    pytest.param("/v1/reports/goal-achievement", {"as_of": "1899-12-31"}, "as_of", id="as-of-1899"),
    pytest.param("/v1/objectives", {"due_from": "0001-01-01"}, "due_from", id="due-from-0001"),
    pytest.param("/v1/reports/goal-achievement", {"to": "9999-12-31"}, "to", id="report-to-9999"),
    pytest.param(
        "/v1/kpis/{kpi}/attainment",
        {"period_start": "2999-01-01", "period_end": "9999-12-31"},
        "period_end",
        id="attainment-period-9999",
    ),
    pytest.param(
        "/v1/kpis/{kpi}/series",
        {"from": "2999-12-01", "to": "9999-12-31T23:59:59Z", "interval": "year"},
        "to",
        id="series-to-9999",
    ),
    pytest.param(
        "/v1/kpis/{kpi}/points", {"from": "1899-12-31T23:00:00Z"}, "from", id="points-from-1899"
    ),
    pytest.param(
        "/v1/objectives/{objective}/progress/history",
        {"from": "0001-01-01", "to": "2026-01-01"},
        "from",
        id="history-from-0001",
    ),
]


@pytest.mark.parametrize(("path", "params", "name"), QUERIES)
async def test_out_of_range_query_parameters_are_422(
    client: httpx.AsyncClient,
    tenant: Tenant,
    ids: dict[str, str],
    path: str,
    params: dict[str, str],
    name: str,
) -> None:
    response = await client.get(path.format(**ids), headers=tenant.headers, params=params)
    problem = assert_problem(response, 422)
    assert error_locs(problem) == [["query", name]]
    assert SPAN in problem["errors"][0]["message"]


async def test_points_outside_are_422_and_the_edges_are_stored(
    client: httpx.AsyncClient, tenant: Tenant, ids: dict[str, str]
) -> None:
    def point(ts: str) -> dict[str, Any]:
        return {"kpi": "sales.arr", "ts": ts, "value": 1.0}

    outside = [point("1900-01-01T00:30:00+01:00"), point("2999-12-31T23:00:00-05:00")]
    response = await client.post(
        "/v1/points", headers=tenant.headers, json={"points": [point("2026-01-01T00:00:00Z")]}
    )
    assert response.status_code == 200, response.text
    problem = assert_problem(
        await client.post("/v1/points", headers=tenant.headers, json={"points": outside}), 422
    )
    assert error_locs(problem) == [["body", "points", 0, "ts"], ["body", "points", 1, "ts"]]

    edges = [point("1900-01-01T00:00:00Z"), point("2999-12-31T23:59:59.999999Z")]
    stored = await client.post("/v1/points", headers=tenant.headers, json={"points": edges})
    assert stored.status_code == 200, stored.text
    assert stored.json()["inserted"] == 2
    # Reads over the whole supported span work at both ends.
    series = await client.get(
        f"/v1/kpis/{ids['kpi']}/series",
        headers=tenant.headers,
        params={"from": "1900-01-01", "to": "2999-12-31T23:59:59.999999Z", "interval": "year"},
    )
    assert series.status_code == 200, series.text
    counted = [(b["start"][:4], b["count"]) for b in series.json()["buckets"] if b["count"]]
    # The last instant is outside [from, to): to is exclusive.
    assert counted == [("1900", 1), ("2026", 1)]
    attainment_edge = await client.post(
        f"/v1/kpis/{ids['kpi']}/targets",
        headers=tenant.headers,
        json={"period_start": "2999-01-01", "period_end": "2999-12-31", "value": 2},
    )
    assert attainment_edge.status_code == 201, attainment_edge.text
    attainment = await client.get(
        f"/v1/kpis/{ids['kpi']}/attainment",
        headers=tenant.headers,
        params={"as_of": "2999-12-31"},
    )
    assert attainment.status_code == 200, attainment.text
    assert attainment.json()["actual"] == 1.0
