"""GET /v1/objectives/{id}/progress/history: one point per bucket end, as of that instant."""

from typing import Any

import httpx

from tests.reports.dataset import Strategy, get_json, near
from tests.support import Tenant


async def history(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, **params: Any
) -> dict[str, Any]:
    path = f"/v1/objectives/{objective_id}/progress/history"
    body: dict[str, Any] = await get_json(client, tenant, path, params)
    return body


def points(body: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(point["at"], point["progress"], point["achieved"]) for point in body["points"]]


async def test_monthly_history(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    params = {"from": "2026-01-01", "to": "2026-04-01", "interval": "month"}
    body = await history(client, tenant, o["R"], **params)
    assert body["objective_id"] == o["R"]
    assert (body["interval"], body["tz"], body["threshold"]) == ("month", "UTC", 1.0)
    assert points(body) == [
        # End of January: A = (0.2 + 0) / 2 = 0.1; B = (2 * 0 + 0.25 + 0 + 0) / 5 = 0.05;
        # R = (3 * 0.1 + 0.05) / 4.
        ("2026-02-01T00:00:00Z", near(0.0875), False),
        # End of February: revenue 500 -> 0.5, deals 4 -> 0: A = 0.25; churn avg(6, 4) = 5
        # -> 1, cost 90 -> 0.25, latency 250 -> 0, H 0: B = 2.25 / 5 = 0.45;
        # R = (0.75 + 0.45) / 4.
        ("2026-03-01T00:00:00Z", near(0.3), False),
        # End of March: A 0.95, B 0.9: R = 3.75 / 4.
        ("2026-04-01T00:00:00Z", near(0.9375), False),
    ]
    body = await history(client, tenant, o["R"], **params, threshold=0.9)
    assert body["threshold"] == 0.9
    assert [point[2] for point in points(body)] == [False, False, True]


async def test_daily_history_ends_at_to(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    body = await history(
        client,
        tenant,
        o["A"],
        **{"from": "2026-01-09T00:00:00Z", "to": "2026-01-10T18:00:00Z", "interval": "day"},
    )
    assert points(body) == [
        # Both key results still without data: measured, 0.
        ("2026-01-10T00:00:00Z", 0.0, False),
        # The last bucket ends at ``to``: revenue 200 (01-10 12:00) -> 0.2; (0.2 + 0) / 2.
        ("2026-01-10T18:00:00Z", near(0.1), False),
    ]


async def test_history_buckets_follow_the_time_zone(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    params = {"from": "2026-01-01", "to": "2026-04-01", "interval": "month", "tz": "Europe/Berlin"}
    body = await history(client, tenant, o["A"], **params)
    assert body["tz"] == "Europe/Berlin"
    assert points(body) == [
        ("2026-01-31T23:00:00Z", near(0.1), False),  # revenue 200, deals 4
        ("2026-02-28T23:00:00Z", near(0.25), False),  # revenue 500, deals 4
        # April starts at 22:00Z (CEST): the 400 at 03-31T23:59:59Z is not in yet,
        # deals 12 is: (0.5 + 1) / 2.
        ("2026-03-31T22:00:00Z", near(0.75), False),
    ]


async def test_history_point_equals_progress_as_of_its_instant(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    """Each point is "the progress as of that instant": a point stored exactly at a bucket
    end counts there, as it does for GET /v1/objectives/{id}?as_of=<that instant>."""
    o = strategy.objectives
    body = await history(
        client, tenant, o["A"], **{"from": "2026-02-14", "to": "2026-02-16", "interval": "day"}
    )
    ats = [point[0] for point in points(body)]
    assert ats == ["2026-02-15T00:00:00Z", "2026-02-16T00:00:00Z"]
    for at in ats:
        direct = await get_json(client, tenant, f"/v1/objectives/{o['A']}", {"as_of": at})
        # The revenue point 300 at 2026-02-15T00:00:00Z counts as of that instant:
        # revenue 500 -> 0.5, deals 4 -> 0: (0.5 + 0) / 2.
        assert direct["progress"] == near(0.25)
    assert points(body) == [
        ("2026-02-15T00:00:00Z", near(0.25), False),
        ("2026-02-16T00:00:00Z", near(0.25), False),
    ]
