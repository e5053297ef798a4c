"""An objective's check-in cadence: stored as given, null meaning as its parent asks."""

import httpx
import pytest

from tests.support import Tenant, assert_problem, created

BODY = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}


async def test_the_cadence_is_stored_changed_and_cleared(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    unset = await client.post("/v1/objectives", headers=tenant.headers, json=BODY)
    assert unset.json()["check_in_every_days"] is None
    objective = await created(client, tenant, "/v1/objectives", BODY | {"check_in_every_days": 7})
    url = f"/v1/objectives/{objective}"
    assert (await client.get(url, headers=tenant.headers)).json()["check_in_every_days"] == 7
    patched = await client.patch(url, headers=tenant.headers, json={"check_in_every_days": 30})
    assert patched.json()["check_in_every_days"] == 30
    cleared = await client.patch(url, headers=tenant.headers, json={"check_in_every_days": None})
    assert cleared.json()["check_in_every_days"] is None
    listed = await client.get("/v1/objectives", headers=tenant.headers)
    assert {item["check_in_every_days"] for item in listed.json()["items"]} == {None}


@pytest.mark.parametrize("value", [0, 367, -1, 1.5, True, "7", "seven"])
async def test_a_cadence_outside_1_to_366_whole_days_is_422(
    client: httpx.AsyncClient, tenant: Tenant, value: object
) -> None:
    response = await client.post(
        "/v1/objectives", headers=tenant.headers, json=BODY | {"check_in_every_days": value}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "check_in_every_days"]
    objective = await created(client, tenant, "/v1/objectives", BODY)
    patched = await client.patch(
        f"/v1/objectives/{objective}", headers=tenant.headers, json={"check_in_every_days": value}
    )
    assert_problem(patched, 422)
