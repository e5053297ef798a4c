"""Another org's objectives and KPIs are invisible: 404, and never in any number."""

import httpx

from tests.reports.dataset import (
    AS_OF,
    Q1,
    Strategy,
    add_key_result,
    add_target,
    check_in,
    create_kpi,
    create_objective,
    get_json,
    link,
    near,
    point,
    seed_strategy,
    send,
)
from tests.support import Tenant, assert_problem


async def seed_other_org(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    """KPIs with the same keys as ours, and objectives that would move every number."""
    revenue = await create_kpi(client, tenant, "revenue")
    await add_target(client, tenant, revenue, *Q1, 10.0)
    spare = await create_kpi(client, tenant, "spare")
    await send(client, tenant, [point("revenue", "2026-02-01T00:00:00Z", 100000.0)])
    goal = await create_objective(client, tenant, "Their goal", team="cs")
    kr = await add_key_result(client, tenant, goal, "Done", direction="at_least", target_value=1)
    await check_in(client, tenant, kr, 1, "2026-02-01T00:00:00Z")
    unaligned = await create_objective(client, tenant, "Their unaligned", parent_id=goal)
    await link(client, tenant, goal, revenue)
    return {"revenue": revenue, "spare": spare, "goal": goal, "unaligned": unaligned}


async def test_their_ids_are_404(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await seed_other_org(client, other_tenant)
    history = {"from": "2026-01-01", "to": "2026-04-01"}
    for path, params in [
        (f"/v1/objectives/{theirs['goal']}/progress", {}),
        (f"/v1/objectives/{theirs['goal']}/progress/history", history),
        (f"/v1/kpis/{theirs['revenue']}/attainment", {"as_of": "2026-02-15T00:00:00Z"}),
        (f"/v1/kpis/{theirs['revenue']}/series", history),
        (f"/v1/objectives/{theirs['goal']}", {}),
    ]:
        response = await client.get(path, headers=tenant.headers, params=params)
        assert_problem(response, 404, "not-found")
        # The same reads work for their owner.
        mine = await client.get(path, headers=other_tenant.headers, params=params)
        assert mine.status_code == 200, mine.text


async def test_their_data_never_enters_our_numbers(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await seed_other_org(client, other_tenant)
    strategy: Strategy = await seed_strategy(client, tenant)
    o = strategy.objectives
    # Their 100000 revenue point (same KPI key, inside Q1) is not ours: still 900.
    kr = await get_json(
        client, tenant, f"/v1/key-results/{strategy.key_results['revenue']}", {"as_of": AS_OF}
    )
    assert (kr["current_value"], kr["progress"]) == (900.0, near(0.9))
    attainment = await get_json(
        client,
        tenant,
        f"/v1/kpis/{strategy.kpis['revenue']}/attainment",
        {"as_of": "2026-02-15T00:00:00Z"},
    )
    assert (attainment["target"], attainment["actual"]) == (1000.0, 500.0)

    goals = await get_json(client, tenant, "/v1/reports/goal-achievement", {"as_of": AS_OF})
    assert (goals["objectives_total"], goals["measured"], goals["achieved"]) == (6, 5, 1)
    assert goals["rate"] == near(0.2)
    assert theirs["goal"] not in {item["id"] for item in goals["objectives"]}
    team = await get_json(
        client, tenant, "/v1/reports/goal-achievement", {"as_of": AS_OF, "team": "cs"}
    )
    assert [item["id"] for item in team["objectives"]] == [o["B"], o["H"]]
    under_theirs = await get_json(
        client,
        tenant,
        "/v1/reports/goal-achievement",
        {"as_of": AS_OF, "parent_id": theirs["goal"]},
    )
    assert (under_theirs["objectives_total"], under_theirs["objectives"]) == (0, [])

    alignment = await get_json(client, tenant, "/v1/reports/alignment")
    assert (alignment["objectives_total"], alignment["aligned"]) == (5, 4)
    assert alignment["alignment_score"] == near(5 / 6)
    assert (alignment["kpis_total"], alignment["kpis_linked"]) == (5, 3)
    assert [item["id"] for item in alignment["unaligned_objectives"]] == [o["E"]]
    assert [item["key"] for item in alignment["orphan_kpis"]] == ["nps", "legacy"]

    # And theirs hold only their own data.
    their_goals = await get_json(
        client, other_tenant, "/v1/reports/goal-achievement", {"as_of": AS_OF}
    )
    # Their goal (1 of 1 key result) and its child without key results (unmeasured).
    assert (their_goals["objectives_total"], their_goals["measured"]) == (2, 1)
    assert (their_goals["achieved"], their_goals["rate"]) == (1, 1.0)
    their_alignment = await get_json(client, other_tenant, "/v1/reports/alignment")
    # Their goal is linked (aligned, scores 1); its child is an unaligned leaf.
    assert (their_alignment["objectives_total"], their_alignment["aligned"]) == (2, 1)
    assert their_alignment["coverage"] == near(0.5)
    assert their_alignment["alignment_score"] == near(1.0)
    assert [item["id"] for item in their_alignment["unaligned_objectives"]] == [theirs["unaligned"]]
    assert (their_alignment["kpis_total"], their_alignment["kpis_linked"]) == (2, 1)
    assert [item["id"] for item in their_alignment["orphan_kpis"]] == [theirs["spare"]]
    their_attainment = await get_json(
        client,
        other_tenant,
        f"/v1/kpis/{theirs['revenue']}/attainment",
        {"as_of": "2026-02-15T00:00:00Z"},
    )
    assert (their_attainment["target"], their_attainment["actual"]) == (10.0, 100000.0)
