"""Bad parameters of computed reads: a 422 problem naming the parameter."""

from collections.abc import Callable

import httpx
import pytest

from tests.reports.dataset import (
    Strategy,
    add_key_result,
    add_target,
    create_kpi,
    create_objective,
)
from tests.support import Tenant, assert_problem, error_locs

RANGE = {"from": "2026-01-01", "to": "2026-02-01"}


async def assert_422(
    client: httpx.AsyncClient, tenant: Tenant, path: str, params: dict[str, str], *names: str
) -> None:
    response = await client.get(path, headers=tenant.headers, params=params)
    body = assert_problem(response, 422, "validation-error")
    assert sorted(error_locs(body)) == sorted(["query", name] for name in names)


@pytest.fixture
async def strategy(client: httpx.AsyncClient, tenant: Tenant) -> Strategy:
    """Just enough to have an id of each kind (the full dataset is not needed here)."""
    revenue = await create_kpi(client, tenant, "revenue")
    await add_target(client, tenant, revenue, "2026-01-01", "2026-12-31", 1)
    root = await create_objective(client, tenant, "Root")
    child = await create_objective(client, tenant, "Child", parent_id=root)
    kr = await add_key_result(
        client, tenant, child, "KR", direction="at_least", target_value=1, kpi_id=revenue
    )
    return Strategy(
        objectives={"R": root, "A": child}, key_results={"revenue": kr}, kpis={"revenue": revenue}
    )


def series_path(strategy: Strategy) -> str:
    return f"/v1/kpis/{strategy.kpis['revenue']}/series"


def history_path(strategy: Strategy) -> str:
    return f"/v1/objectives/{strategy.objectives['R']}/progress/history"


@pytest.mark.parametrize("path_of", [series_path, history_path], ids=["series", "history"])
@pytest.mark.parametrize(
    ("params", "names"),
    [
        pytest.param({"from": "2026-02-01", "to": "2026-01-01"}, ["to"], id="from-after-to"),
        pytest.param({"from": "2026-01-01", "to": "2026-01-01"}, ["to"], id="empty-range"),
        pytest.param({}, ["from", "to"], id="no-range"),
        pytest.param({"to": "2026-01-01"}, ["from"], id="no-from"),
        pytest.param({"from": "2026-01-01"}, ["to"], id="no-to"),
        pytest.param({"from": "2026-01-01T00:00:00", "to": "2026-02-01"}, ["from"], id="naive"),
        pytest.param({"from": "soon", "to": "2026-02-01"}, ["from"], id="garbage"),
        pytest.param({**RANGE, "interval": "fortnight"}, ["interval"], id="interval"),
        pytest.param({**RANGE, "tz": "Mars/Olympus_Mons"}, ["tz"], id="time-zone"),
    ],
)
async def test_bad_range_parameters(
    client: httpx.AsyncClient,
    tenant: Tenant,
    strategy: Strategy,
    path_of: Callable[[Strategy], str],
    params: dict[str, str],
    names: list[str],
) -> None:
    await assert_422(client, tenant, path_of(strategy), params, *names)


async def test_too_many_buckets(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    two_years = {"from": "2024-01-01", "to": "2026-01-01", "interval": "hour"}  # 17,544 hours
    await assert_422(client, tenant, series_path(strategy), two_years, "interval")
    # One bucket fewer than the limit's worth is fine: 10,000 hours from 2024-01-01.
    fine = {"from": "2024-01-01T00:00:00Z", "to": "2025-02-20T16:00:00Z", "interval": "hour"}
    response = await client.get(series_path(strategy), headers=tenant.headers, params=fine)
    assert response.status_code == 200, response.text
    assert len(response.json()["buckets"]) == 10_000
    # History allows at most 400 points: 731 days is too many.
    days = {"from": "2024-01-01", "to": "2026-01-01", "interval": "day"}
    await assert_422(client, tenant, history_path(strategy), days, "interval")


@pytest.mark.parametrize("threshold", ["0", "1.5", "-0.2", "high"])
async def test_threshold_outside_0_1(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy, threshold: str
) -> None:
    o = strategy.objectives
    paths = [
        f"/v1/objectives/{o['A']}",
        "/v1/objectives",
        f"/v1/objectives/{o['R']}/progress",
        "/v1/reports/goal-achievement",
    ]
    for path in paths:
        await assert_422(client, tenant, path, {"threshold": threshold}, "threshold")
    await assert_422(
        client, tenant, history_path(strategy), {**RANGE, "threshold": threshold}, "threshold"
    )


@pytest.mark.parametrize(
    "as_of", ["2026-01-01T00:00:00", "yesterday", "2026-13-01", "2026-02-30T00:00:00Z"]
)
async def test_as_of_without_offset_or_garbage(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy, as_of: str
) -> None:
    o, k = strategy.objectives, strategy.key_results
    paths = [
        f"/v1/objectives/{o['A']}",
        "/v1/objectives",
        f"/v1/key-results/{k['revenue']}",
        f"/v1/objectives/{o['A']}/key-results",
        f"/v1/objectives/{o['R']}/progress",
        "/v1/reports/goal-achievement",
        f"/v1/kpis/{strategy.kpis['revenue']}/attainment",
    ]
    for path in paths:
        await assert_422(client, tenant, path, {"as_of": as_of}, "as_of")


async def test_goal_achievement_window(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    path = "/v1/reports/goal-achievement"
    await assert_422(client, tenant, path, {"from": "2026-06-30", "to": "2026-01-01"}, "to")
    await assert_422(client, tenant, path, {"from": "2026-06-31"}, "from")
    # Only from: the window runs to the end of as_of's year, which is before from.
    params = {"from": "2027-01-01", "as_of": "2026-04-30T00:00:00Z"}
    await assert_422(client, tenant, path, params, "to")
