"""GET /v1/reports/goal-achievement: objectives active or closed, due in [from, to].

As of AS_OF the counted objectives and their progress are (dataset module):
A 0.95, B 0.9, H 1.0 (closed), S 0.5 (all due 2026-03-31), E unmeasured (due
2026-06-30), R 0.9375 (due 2026-12-31). C (cancelled), D (draft) never count; F
(closed) is due 2025-12-31.
"""

import csv
import io
from typing import Any

import httpx

from tests.reports.dataset import AS_OF, Strategy, get_json, near
from tests.support import Tenant

REPORT = "/v1/reports/goal-achievement"


async def report(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = await get_json(client, tenant, REPORT, {"as_of": AS_OF, **params})
    return body


def counts(body: dict[str, Any]) -> tuple[int, int, int, Any]:
    return body["objectives_total"], body["measured"], body["achieved"], body["rate"]


def rows(body: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(item["id"], item["progress"], item["achieved"]) for item in body["objectives"]]


async def test_default_window_is_the_calendar_year_of_as_of(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    body = await report(client, tenant)
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-12-31")
    assert (body["as_of"], body["threshold"]) == ("2026-04-30T00:00:00Z", 1.0)
    # 6 counted, 5 measured (not E), achieved at 1: only H. rate 1 / 5.
    assert counts(body) == (6, 5, 1, near(0.2))
    assert rows(body) == [  # by due date, then creation
        (o["A"], near(0.95), False),
        (o["B"], near(0.9), False),
        (o["H"], 1.0, True),
        (o["S"], near(0.5), False),
        (o["E"], None, None),
        (o["R"], near(0.9375), False),
    ]
    first = body["objectives"][0]
    assert (first["title"], first["status"], first["team"], first["due_date"]) == (
        "Grow revenue",
        "active",
        "sales",
        "2026-03-31",
    )
    # As of the last day of 2025 the window is 2025: only F (closed), 150 >= 100.
    body = await report(client, tenant, as_of="2025-12-31")
    assert (body["from"], body["to"]) == ("2025-01-01", "2025-12-31")
    assert counts(body) == (1, 1, 1, 1.0)
    assert rows(body) == [(o["F"], 1.0, True)]
    # Before F's check-in (2025-12-15) its key result has no data: measured at 0.
    body = await report(client, tenant, as_of="2025-12-14")
    assert counts(body) == (1, 1, 0, 0.0)


async def test_threshold(client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy) -> None:
    body = await report(client, tenant, threshold=0.7)
    assert body["threshold"] == 0.7
    # R 0.9375, A 0.95, B 0.9, H 1.0 reach 0.7; S 0.5 does not: 4 / 5.
    assert counts(body) == (6, 5, 4, near(0.8))
    assert [row[2] for row in rows(body)] == [True, True, True, False, None, True]


async def test_window_includes_both_ends(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    body = await report(client, tenant, **{"from": "2026-03-31", "to": "2026-06-30"})
    assert [row[0] for row in rows(body)] == [o["A"], o["B"], o["H"], o["S"], o["E"]]
    assert counts(body) == (5, 4, 1, near(0.25))
    body = await report(client, tenant, **{"from": "2026-06-30", "to": "2026-12-31"})
    assert [row[0] for row in rows(body)] == [o["E"], o["R"]]
    assert counts(body) == (2, 1, 0, 0.0)


async def test_rate_is_null_when_nothing_is_measured(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    body = await report(client, tenant, **{"from": "2026-04-01", "to": "2026-06-30"})
    assert rows(body) == [(o["E"], None, None)]
    assert counts(body) == (1, 0, 0, None)
    body = await report(client, tenant, **{"from": "2026-01-01", "to": "2026-03-30"})
    assert counts(body) == (0, 0, 0, None)
    assert body["objectives"] == []


async def test_parent_id_restricts_to_the_subtree(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    # Under R, due in Q1: A, B and H (grandchild); S is due in Q1 too but is not under R.
    q1 = {"from": "2026-01-01", "to": "2026-03-31"}
    body = await report(client, tenant, **q1, parent_id=o["R"])
    assert [row[0] for row in rows(body)] == [o["A"], o["B"], o["H"]]
    assert counts(body) == (3, 3, 1, near(1 / 3))
    body = await report(client, tenant, **q1)
    assert counts(body) == (4, 4, 1, near(0.25))  # A, B, H, S
    body = await report(client, tenant, parent_id=o["B"])
    assert rows(body) == [(o["H"], 1.0, True)]
    assert counts(body) == (1, 1, 1, 1.0)


async def test_team_filter(client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy) -> None:
    o = strategy.objectives
    body = await report(client, tenant, team="cs")
    assert rows(body) == [(o["B"], near(0.9), False), (o["H"], 1.0, True)]
    assert counts(body) == (2, 2, 1, near(0.5))
    body = await report(client, tenant, team="sales")
    assert counts(body) == (1, 1, 0, 0.0)
    body = await report(client, tenant, team="nobody")
    assert counts(body) == (0, 0, 0, None)


async def test_csv_lists_the_objectives(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    response = await client.get(
        REPORT, headers=tenant.headers, params={"as_of": AS_OF, "format": "csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == [
        "id",
        "title",
        "status",
        "team",
        "due_date",
        "progress",
        "achieved",
    ]
    got = [
        (row["id"], row["status"], row["due_date"], row["progress"], row["achieved"].lower())
        for row in reader
    ]
    expected = [
        (o["A"], "active", "2026-03-31", 0.95, "false"),
        (o["B"], "active", "2026-03-31", 0.9, "false"),
        (o["H"], "closed", "2026-03-31", 1.0, "true"),
        (o["S"], "active", "2026-03-31", 0.5, "false"),
        (o["E"], "active", "2026-06-30", None, ""),
        (o["R"], "active", "2026-12-31", 0.9375, "false"),
    ]
    assert len(got) == len(expected)
    for (gid, status, due, progress, achieved), want in zip(got, expected, strict=True):
        assert (gid, status, due, achieved) == (want[0], want[1], want[2], want[4])
        if want[3] is None:
            assert progress == ""
        else:
            assert float(progress) == near(want[3])


async def test_default_window_depends_on_the_instant_not_its_offset(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    """as_of is an instant: written with another offset it must give the same report.

    2026-01-01T00:30:00+01:00 is 2025-12-31T23:30:00Z, in 2025 in UTC, as dates are
    everywhere else (an as_of date is the end of that UTC day; attainment picks the
    target period by as_of's UTC date).
    """
    o = strategy.objectives
    for as_of in ("2025-12-31T23:30:00Z", "2026-01-01T00:30:00+01:00"):
        body = await report(client, tenant, as_of=as_of)
        assert (body["from"], body["to"]) == ("2025-01-01", "2025-12-31"), as_of
        assert rows(body) == [(o["F"], 1.0, True)]
        assert counts(body) == (1, 1, 1, 1.0)
