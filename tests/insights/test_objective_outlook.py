"""Where an objective is likely to stand at the end of its due date."""

import httpx
import pytest

from tests.forecasts.helpers import daily_kpi, day_after
from tests.support import Tenant, assert_problem, created

Q1 = {"start_date": "2026-01-01", "due_date": "2026-03-31"}


async def objective_with_key_results(
    client: httpx.AsyncClient, tenant: Tenant, kpi: str, parent: str | None = None
) -> tuple[str, str, str]:
    """An objective with a key result reading the KPI and one taking rising check-ins."""
    body = {"title": "Grow", **Q1} | ({"parent_id": parent} if parent else {})
    objective = await created(client, tenant, "/v1/objectives", body)
    linked = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {
            "title": "Sales",
            "direction": "increase",
            "start_value": 0,
            "target_value": 12_000,
            "kpi_id": kpi,
        },
    )
    manual = await created(
        client,
        tenant,
        f"/v1/objectives/{objective}/key-results",
        {"title": "Shipped", "direction": "increase", "start_value": 0, "target_value": 10},
    )
    for value, day in ((2, "2026-01-10"), (4, "2026-01-20"), (6, "2026-01-30")):
        await created(
            client,
            tenant,
            f"/v1/key-results/{manual}/check-ins",
            {"value": value, "at": f"{day}T12:00:00Z"},
        )
    return objective, linked, manual


async def outlook(
    client: httpx.AsyncClient, tenant: Tenant, objective: str, **params: object
) -> dict:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    response = await client.get(
        f"/v1/objectives/{objective}/outlook?{query}", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_key_results_are_projected_to_the_due_date(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 40)
    objective, linked, manual = await objective_with_key_results(client, tenant, kpi)
    body = await outlook(client, tenant, objective, as_of=day_after(40))
    assert body["due_date"] == "2026-03-31"
    assert body["threshold"] == 1.0
    by_id = {item["id"]: item for item in body["key_results"]}
    assert list(by_id) == [linked, manual]
    # Check-ins rise 0.2 a day: 18 by April 1, past the target of 10.
    assert by_id[manual]["current_value"] == 6
    assert by_id[manual]["expected_value"] == pytest.approx(2 + 0.2 * 80.5, rel=1e-6)
    assert by_id[manual]["expected_progress"] == 1.0
    assert by_id[manual]["probability"] == 1.0
    # About 10,300 expected of 12,000: short of the target, most likely.
    assert 9_500 < by_id[linked]["expected_value"] < 11_000
    assert 0.75 < by_id[linked]["expected_progress"] < 0.95
    assert by_id[linked]["probability"] < 0.5
    assert body["lower"] <= body["expected_progress"] <= body["upper"]
    assert body["expected_progress"] == pytest.approx(
        (by_id[linked]["expected_progress"] + 1.0) / 2, abs=1e-9
    )
    assert body["probability_achieved"] == by_id[linked]["probability"]
    assert 0 < body["progress"] < body["expected_progress"]


async def test_children_roll_up_as_progress_does(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await daily_kpi(client, tenant, 40)
    parent = await created(client, tenant, "/v1/objectives", {"title": "Company", **Q1})
    child, _, _ = await objective_with_key_results(client, tenant, kpi, parent=parent)
    parent_outlook = await outlook(client, tenant, parent, as_of=day_after(40))
    child_outlook = await outlook(client, tenant, child, as_of=day_after(40))
    assert parent_outlook["key_results"] == []
    for field in ("expected_progress", "lower", "upper", "probability_achieved"):
        assert parent_outlook[field] == pytest.approx(child_outlook[field])


async def test_past_the_due_date_the_outlook_is_what_happened(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 40)
    objective, _, _ = await objective_with_key_results(client, tenant, kpi)
    body = await outlook(client, tenant, objective, as_of="2026-04-15", threshold=0.5)
    assert body["expected_progress"] == pytest.approx(body["progress"])
    assert body["lower"] == pytest.approx(body["upper"])
    assert body["probability_achieved"] == (1.0 if body["progress"] >= 0.5 else 0.0)


async def test_nothing_to_measure_gives_nulls(client: httpx.AsyncClient, tenant: Tenant) -> None:
    objective = await created(client, tenant, "/v1/objectives", {"title": "Empty", **Q1})
    body = await outlook(client, tenant, objective)
    assert body["expected_progress"] is None
    assert body["probability_achieved"] is None
    assert body["key_results"] == []


async def test_later_data_does_not_change_an_outlook_as_of_the_past(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi = await daily_kpi(client, tenant, 40)
    objective, _, manual = await objective_with_key_results(client, tenant, kpi)
    before = await outlook(client, tenant, objective, as_of=day_after(30))
    await created(
        client,
        tenant,
        f"/v1/key-results/{manual}/check-ins",
        {"value": 0, "at": f"{day_after(35)}T00:00:00Z"},
    )
    assert await outlook(client, tenant, objective, as_of=day_after(30)) == before


async def test_bad_input_and_other_orgs(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    objective = await created(client, tenant, "/v1/objectives", {"title": "Mine", **Q1})
    hidden = await client.get(f"/v1/objectives/{objective}/outlook", headers=other_tenant.headers)
    assert_problem(hidden, 404)
    missing = await client.get(
        "/v1/objectives/00000000-0000-0000-0000-000000000000/outlook", headers=tenant.headers
    )
    assert_problem(missing, 404)
    for query in ("threshold=0", "threshold=1.5", "as_of=soon"):
        response = await client.get(
            f"/v1/objectives/{objective}/outlook?{query}", headers=tenant.headers
        )
        assert_problem(response, 422)
