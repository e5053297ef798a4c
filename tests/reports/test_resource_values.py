"""Values computed on read on the resources themselves.

Objectives carry ``progress`` and ``achieved`` (``?as_of=``, ``?threshold=``); key
results carry ``current_value`` and ``progress`` (``?as_of=``). The dataset is
described in ``tests.reports.dataset``.
"""

from typing import Any

import httpx

from tests.reports.dataset import (
    AS_OF,
    Strategy,
    add_key_result,
    check_in,
    create_objective,
    get_json,
    near,
)
from tests.support import Tenant

OBJECTIVES = "/v1/objectives"
KEY_RESULTS = "/v1/key-results"


async def objective(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, **params: Any
) -> tuple[float | None, bool | None]:
    body = await get_json(client, tenant, f"{OBJECTIVES}/{objective_id}", params)
    return body["progress"], body["achieved"]


async def key_result(
    client: httpx.AsyncClient, tenant: Tenant, key_result_id: str, as_of: str
) -> tuple[float | None, float]:
    body = await get_json(client, tenant, f"{KEY_RESULTS}/{key_result_id}", {"as_of": as_of})
    return body["current_value"], body["progress"]


async def test_objective_get_carries_progress_and_achieved(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    # A as of AS_OF: revenue 900 of 0 -> 1000 = 0.9, deals 12 >= 10 = 1; mean (0.9 + 1) / 2.
    progress, achieved = await objective(client, tenant, o["A"], as_of=AS_OF)
    assert progress == near(0.95)
    assert achieved is False  # default threshold 1
    assert await objective(client, tenant, o["A"], as_of=AS_OF, threshold=0.95) == (
        near(0.95),
        True,
    )
    # R: A 0.95 (weight 3) and B 0.9 (weight 1); C, D, E left out: (2.85 + 0.9) / 4.
    progress, achieved = await objective(client, tenant, o["R"], as_of=AS_OF, threshold=0.9)
    assert progress == near(0.9375)
    assert achieved is True
    # On 2026-02-01 (end of day): revenue 200 -> 0.2, deals 4 -> 0: A = 0.1.
    assert await objective(client, tenant, o["A"], as_of="2026-02-01") == (near(0.1), False)
    # E has no key results and no children: unmeasured, whatever the threshold.
    assert await objective(client, tenant, o["E"], as_of=AS_OF, threshold=0.5) == (None, None)


async def test_objective_list_carries_progress(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    listed = await get_json(client, tenant, OBJECTIVES, {"as_of": AS_OF, "threshold": 0.9})
    got = {item["id"]: (item["progress"], item["achieved"]) for item in listed["items"]}
    assert got == {
        o["R"]: (near(0.9375), True),
        o["A"]: (near(0.95), True),
        o["B"]: (near(0.9), True),  # (2 * 1 + 0.5 + 1 + H 1) / 5 = 0.9 >= 0.9
        o["C"]: (1.0, True),  # its own progress counts for itself, cancelled or not
        o["D"]: (0.0, False),  # one key result without data: measured, 0
        o["E"]: (None, None),
        o["H"]: (1.0, True),  # 3 within 0..4
        o["S"]: (0.5, False),  # 5 of 0 -> 10
        o["F"]: (1.0, True),  # 150 >= 100
    }
    # As of 2026-02-01 (end of day), threshold 1:
    # A: revenue 200 -> 0.2, deals 4 -> 0: 0.1.
    # B: churn avg 6 > 5 -> 0 (w 2), cost 90 -> (90 - 100) / (60 - 100) = 0.25,
    #    latency no check-in -> 0, H no check-in -> 0: 0.25 / 5 = 0.05.
    # R: (3 * 0.1 + 0.05) / 4 = 0.0875.
    listed = await get_json(client, tenant, OBJECTIVES, {"as_of": "2026-02-01"})
    got = {item["id"]: (item["progress"], item["achieved"]) for item in listed["items"]}
    assert got == {
        o["R"]: (near(0.0875), False),
        o["A"]: (near(0.1), False),
        o["B"]: (near(0.05), False),
        o["C"]: (1.0, True),  # check-in 5 at 2026-02-01T00:00Z
        o["D"]: (0.0, False),
        o["E"]: (None, None),
        o["H"]: (0.0, False),
        o["S"]: (0.0, False),
        o["F"]: (1.0, True),
    }


async def test_kpi_key_result_reads_the_objective_period(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kr = strategy.key_results["revenue"]
    # Q1 points 200 + 300 + 400; 50 (before 01-01) and 500 (04-01T00:00Z, after the due
    # date's end) are outside the objective's period.
    assert await key_result(client, tenant, kr, AS_OF) == (900.0, near(0.9))
    assert await key_result(client, tenant, kr, "2030-01-01") == (900.0, near(0.9))
    # A point at exactly as_of counts (ts <= as_of), whatever the offset as_of is given in.
    assert await key_result(client, tenant, kr, "2026-02-15T00:00:00Z") == (500.0, near(0.5))
    assert await key_result(client, tenant, kr, "2026-02-15T01:00:00+01:00") == (500.0, near(0.5))
    assert await key_result(client, tenant, kr, "2026-02-14T23:59:59.999999Z") == (
        200.0,
        near(0.2),
    )
    # A date means the end of that day (UTC).
    assert await key_result(client, tenant, kr, "2026-02-15") == (500.0, near(0.5))
    # Before the objective starts: the 50 point is at or before as_of but not in the period.
    assert await key_result(client, tenant, kr, "2025-12-31T23:30:00Z") == (None, 0.0)


async def test_manual_key_result_reads_the_latest_check_in(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    kr = strategy.key_results["cost"]  # decrease 100 -> 60; 90 on 01-20, 80 on 03-01 09:00
    assert await key_result(client, tenant, kr, "2026-03-01T09:00:00Z") == (80.0, near(0.5))
    assert await key_result(client, tenant, kr, "2026-03-01T08:59:59Z") == (90.0, near(0.25))
    assert await key_result(client, tenant, kr, "2026-01-20T00:00:00Z") == (90.0, near(0.25))
    assert await key_result(client, tenant, kr, "2026-01-19") == (None, 0.0)


async def test_every_direction(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives
    k = strategy.key_results

    async def listed(objective_id: str, as_of: str) -> dict[str, tuple[float | None, float]]:
        path = f"{OBJECTIVES}/{objective_id}/key-results"
        body = await get_json(client, tenant, path, {"as_of": as_of})
        return {item["id"]: (item["current_value"], item["progress"]) for item in body["items"]}

    assert await listed(o["A"], AS_OF) == {
        k["revenue"]: (900.0, near(0.9)),  # increase: (900 - 0) / (1000 - 0)
        k["deals"]: (12.0, 1.0),  # at_least 10
    }
    assert await listed(o["B"], AS_OF) == {
        k["churn"]: (4.0, 1.0),  # at_most 5: avg(6, 4, 2) = 4
        k["cost"]: (80.0, near(0.5)),  # decrease: (80 - 100) / (60 - 100)
        k["latency"]: (150.0, 1.0),  # within 100..200
    }
    # 2026-02-28 (end of day): the misses, and the bounds that still count.
    assert await listed(o["A"], "2026-02-28") == {
        k["revenue"]: (500.0, near(0.5)),
        k["deals"]: (4.0, 0.0),  # 4 < 10
    }
    assert await listed(o["B"], "2026-02-28") == {
        k["churn"]: (5.0, 1.0),  # avg(6, 4) = 5 <= 5
        k["cost"]: (90.0, near(0.25)),
        k["latency"]: (250.0, 0.0),  # outside 100..200
    }
    assert (await listed(o["B"], "2026-02-01"))[k["churn"]] == (6.0, 0.0)  # 6 > 5
    # Progress is clamped: 15 of 0 -> 10 is 1.5, shown as 1.
    assert await key_result(client, tenant, k["ops"], "2026-06-01") == (15.0, 1.0)


async def test_key_results_without_data(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    k = strategy.key_results
    assert await key_result(client, tenant, k["someday"], AS_OF) == (None, 0.0)  # no check-in
    assert await key_result(client, tenant, k["latency"], "2026-02-01") == (None, 0.0)
    # A KPI key result whose KPI has points, none of them in the objective's period.
    summer = await create_objective(client, tenant, "Summer 2025", ("2025-07-01", "2025-09-30"))
    kr = await add_key_result(
        client,
        tenant,
        summer,
        "Summer revenue",
        direction="at_least",
        target_value=1,
        kpi_id=strategy.kpis["revenue"],
    )
    assert await key_result(client, tenant, kr, AS_OF) == (None, 0.0)
    # Measured (one key result), at 0.
    assert await objective(client, tenant, summer, as_of=AS_OF) == (0.0, False)


async def test_objective_with_nothing_counted_is_unmeasured(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    parent = await create_objective(client, tenant, "Only excluded children")
    for status in ("cancelled", "draft"):
        child = await create_objective(
            client, tenant, f"{status} child", parent_id=parent, status=status
        )
        kr = await add_key_result(
            client, tenant, child, "Done", direction="at_least", target_value=1
        )
        await check_in(client, tenant, kr, 1, "2026-01-05T00:00:00Z")
        assert await objective(client, tenant, child, as_of=AS_OF) == (1.0, True)
    assert await objective(client, tenant, parent, as_of=AS_OF) == (None, None)
    assert await objective(client, tenant, parent, as_of=AS_OF, threshold=0.1) == (None, None)
