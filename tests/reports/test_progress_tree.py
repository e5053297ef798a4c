"""GET /v1/objectives/{id}/progress: the nested tree, each value with its explain object."""

from typing import Any

import httpx

from tests.reports.dataset import AS_OF, Strategy, get_json, near
from tests.support import Tenant


async def tree(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, **params: Any
) -> dict[str, Any]:
    body: dict[str, Any] = await get_json(
        client, tenant, f"/v1/objectives/{objective_id}/progress", params
    )
    return body


def by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in nodes}


def terms(node: dict[str, Any]) -> list[tuple[str, str, float, Any]]:
    return [
        (term["kind"], term["id"], term["weight"], term["progress"])
        for term in node["explain"]["inputs"]["terms"]
    ]


async def test_tree_as_of_with_explain(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o, k = strategy.objectives, strategy.key_results
    body = await tree(client, tenant, o["R"], as_of=AS_OF)
    assert body["as_of"] == "2026-04-30T00:00:00Z"
    assert body["threshold"] == 1.0
    root = body["objective"]
    assert (root["id"], root["status"], root["weight"]) == (o["R"], "active", 1.0)
    # (3 * 0.95 + 1 * 0.9) / 4; the cancelled, the draft and the unmeasured child are left out.
    assert root["progress"] == near(0.9375)
    assert root["achieved"] is False
    assert root["key_results"] == []
    assert root["explain"]["formula"] == "weighted_mean"
    assert terms(root) == [
        ("objective", o["A"], 3.0, near(0.95)),
        ("objective", o["B"], 1.0, near(0.9)),
    ]
    assert root["explain"]["inputs"]["excluded"] == [
        {"id": o["C"], "reason": "cancelled"},
        {"id": o["D"], "reason": "draft"},
        {"id": o["E"], "reason": "unmeasured"},
    ]
    assert [child["id"] for child in root["children"]] == [o[x] for x in "ABCDE"]
    children = by_id(root["children"])

    a = children[o["A"]]
    assert terms(a) == [
        ("key_result", k["revenue"], 1.0, near(0.9)),
        ("key_result", k["deals"], 1.0, 1.0),
    ]
    assert a["explain"]["inputs"]["excluded"] == []
    revenue, deals = a["key_results"]
    assert revenue["id"] == k["revenue"]
    assert revenue["kpi_id"] == strategy.kpis["revenue"]
    assert (revenue["current_value"], revenue["progress"]) == (900.0, near(0.9))
    assert revenue["explain"]["formula"] == "linear"
    inputs = revenue["explain"]["inputs"]
    assert (inputs["current"], inputs["start"], inputs["target"]) == (900.0, 0.0, 1000.0)
    assert inputs["ratio"] == near(0.9)
    assert (inputs["direction"], inputs["source"]) == ("increase", "kpi")
    assert deals["explain"]["formula"] == "at_least"
    assert deals["explain"]["inputs"]["source"] == "check_in"
    assert (deals["explain"]["inputs"]["current"], deals["explain"]["inputs"]["target"]) == (
        12.0,
        10.0,
    )

    b = children[o["B"]]
    assert b["progress"] == near(0.9)  # (2 * 1 + 0.5 + 1 + 1 * 1) / 5
    assert terms(b) == [
        ("key_result", k["churn"], 2.0, 1.0),
        ("key_result", k["cost"], 1.0, near(0.5)),
        ("key_result", k["latency"], 1.0, 1.0),
        ("objective", o["H"], 1.0, 1.0),  # closed children count
    ]
    churn, cost, latency = b["key_results"]
    assert (churn["explain"]["formula"], churn["explain"]["inputs"]["source"]) == (
        "at_most",
        "kpi",
    )
    assert churn["current_value"] == near(4.0)  # avg(6, 4, 2)
    assert cost["explain"]["formula"] == "linear"
    assert cost["explain"]["inputs"]["ratio"] == near(0.5)  # (80 - 100) / (60 - 100)
    assert latency["explain"]["formula"] == "within"
    assert (
        latency["explain"]["inputs"]["range_min"],
        latency["explain"]["inputs"]["range_max"],
    ) == (
        100.0,
        200.0,
    )
    (h,) = b["children"]
    assert (h["id"], h["status"], h["progress"], h["achieved"]) == (o["H"], "closed", 1.0, True)

    # Excluded children are still shown, with their own numbers.
    c, d, e = children[o["C"]], children[o["D"]], children[o["E"]]
    assert (c["status"], c["progress"], c["achieved"]) == ("cancelled", 1.0, True)
    assert (d["status"], d["progress"], d["achieved"]) == ("draft", 0.0, False)
    (someday,) = d["key_results"]
    assert (someday["current_value"], someday["progress"]) == (None, 0.0)
    assert someday["explain"]["formula"] == "no_data"
    assert someday["explain"]["inputs"]["source"] == "none"
    assert (e["progress"], e["achieved"], e["explain"]["formula"]) == (None, None, "unmeasured")
    assert e["explain"]["inputs"] == {"terms": [], "excluded": []}


async def test_tree_in_the_past_gives_the_older_numbers(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o, k = strategy.objectives, strategy.key_results
    body = await tree(client, tenant, o["R"], as_of="2026-02-01")
    assert body["as_of"] == "2026-02-01T23:59:59.999999Z"
    root = body["objective"]
    assert root["progress"] == near(0.0875)  # (3 * 0.1 + 1 * 0.05) / 4
    children = by_id(root["children"])
    a, b = children[o["A"]], children[o["B"]]
    # Before the 02-15 revenue point and the 03-20 deals check-in.
    assert terms(a) == [
        ("key_result", k["revenue"], 1.0, near(0.2)),
        ("key_result", k["deals"], 1.0, 0.0),
    ]
    assert a["key_results"][0]["current_value"] == 200.0
    assert a["key_results"][1]["current_value"] == 4.0
    # churn avg 6 > 5; cost 90 -> 0.25; latency and H without data yet -> 0.
    assert b["progress"] == near(0.05)
    assert terms(b) == [
        ("key_result", k["churn"], 2.0, 0.0),
        ("key_result", k["cost"], 1.0, near(0.25)),
        ("key_result", k["latency"], 1.0, 0.0),
        ("objective", o["H"], 1.0, 0.0),
    ]
    latency = b["key_results"][2]
    assert (latency["current_value"], latency["explain"]["formula"]) == (None, "no_data")


async def test_threshold_changes_achieved(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o = strategy.objectives

    async def achieved(threshold: float) -> dict[str, bool | None]:
        body = await tree(client, tenant, o["R"], as_of=AS_OF, threshold=threshold)
        assert body["threshold"] == threshold
        root = body["objective"]
        found = {root["id"]: root["achieved"]}
        for child in root["children"]:
            found[child["id"]] = child["achieved"]
            found.update({grand["id"]: grand["achieved"] for grand in child["children"]})
        return found

    # R 0.9375, A 0.95, B 0.9, C 1, D 0, E unmeasured, H 1.
    assert await achieved(1.0) == {
        o["R"]: False,
        o["A"]: False,
        o["B"]: False,
        o["C"]: True,
        o["D"]: False,
        o["E"]: None,
        o["H"]: True,
    }
    assert await achieved(0.9) == {
        o["R"]: True,
        o["A"]: True,
        o["B"]: True,
        o["C"]: True,
        o["D"]: False,
        o["E"]: None,
        o["H"]: True,
    }
    at_095 = await achieved(0.95)
    assert (at_095[o["R"]], at_095[o["A"]], at_095[o["B"]]) == (False, True, False)


async def test_weights_are_honoured(
    client: httpx.AsyncClient, tenant: Tenant, strategy: Strategy
) -> None:
    o, k = strategy.objectives, strategy.key_results

    async def root_progress() -> float:
        progress: float = (await tree(client, tenant, o["R"], as_of=AS_OF))["objective"]["progress"]
        return progress

    assert await root_progress() == near(0.9375)
    response = await client.patch(
        f"/v1/objectives/{o['A']}", headers=tenant.headers, json={"weight": 1}
    )
    assert response.status_code == 200, response.text
    assert await root_progress() == near(0.925)  # (0.95 + 0.9) / 2
    response = await client.patch(
        f"/v1/key-results/{k['churn']}", headers=tenant.headers, json={"weight": 1}
    )
    assert response.status_code == 200, response.text
    # B = (1 + 0.5 + 1 + 1) / 4 = 0.875; R = (0.95 + 0.875) / 2 = 0.9125.
    assert await root_progress() == near(0.9125)
