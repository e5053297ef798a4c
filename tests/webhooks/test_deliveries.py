"""Mapping realistic payloads to points; failed deliveries, replay, listing, isolation."""

from collections import defaultdict
from typing import Any

import httpx
import pytest

from tests.points.helpers import create_kpi
from tests.support import Tenant, assert_problem, error_locs
from tests.webhooks.helpers import (
    KPI,
    SIMPLE_MAPPING,
    SOURCES,
    body_of,
    create_source,
    daily_series,
    deliveries,
    expected_points,
    hmac_signature,
    points,
    post_hook,
    send_hmac,
    send_standard,
    simple_payload,
    standard_headers,
)
from tests.webhooks.payloads import REALISTIC, SALESFORCE_CLOSED_OPPORTUNITY, SALESFORCE_MAPPING


@pytest.mark.parametrize("scheme", ["standard", "hmac_sha256"])
@pytest.mark.parametrize(
    ("payload", "mapping", "kpi", "expected"),
    [case[1:] for case in REALISTIC],
    ids=[case[0] for case in REALISTIC],
)
async def test_realistic_payload_becomes_points(
    client: httpx.AsyncClient,
    tenant: Tenant,
    scheme: str,
    payload: Any,
    mapping: dict[str, Any],
    kpi: str,
    expected: list[tuple[str, float, dict[str, str]]],
) -> None:
    kpi_id = await create_kpi(client, tenant, kpi)
    source = await create_source(client, tenant, scheme, [mapping])
    send = send_standard if scheme == "standard" else send_hmac
    response = await send(client, source, payload)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    assert response.json()["points_written"] == len(expected)
    assert await points(client, tenant, kpi_id) == expected_points(expected)
    per_day: dict[str, list[float]] = defaultdict(list)
    for ts, value, _ in expected_points(expected):
        per_day[ts.date().isoformat()].append(value)
    assert await daily_series(client, tenant, kpi_id) == {
        day: (sum(values), len(values)) for day, values in per_day.items()
    }


async def test_an_open_opportunity_is_processed_without_points(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.closed_won")
    source = await create_source(client, tenant, mappings=[SALESFORCE_MAPPING])
    sobject = {**SALESFORCE_CLOSED_OPPORTUNITY["sobject"], "IsWon": False, "StageName": "Proposal"}
    response = await send_standard(client, source, {"sobject": sobject})
    assert response.status_code == 200, response.text
    assert response.json()["points_written"] == 0
    assert await points(client, tenant, kpi_id) == []
    assert [item["status"] for item in await deliveries(client, tenant, source["id"])] == [
        "processed"
    ]


async def test_several_mappings_and_epoch_timestamps(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    seconds_id = await create_kpi(client, tenant, "a.seconds")
    millis_id = await create_kpi(client, tenant, "a.millis")
    mappings: list[dict[str, Any]] = [
        {"kpi": "'a.seconds'", "ts": "at_s", "value": "n"},
        {"kpi": "'a.millis'", "ts": "at_ms", "value": "n", "dimensions": {"flag": "flag"}},
    ]
    source = await create_source(client, tenant, mappings=mappings)
    payload = {"at_s": 1768471200.5, "at_ms": 1768471200250, "n": "2.5", "flag": True}
    response = await send_standard(client, source, payload)
    assert response.status_code == 200, response.text
    assert response.json()["points_written"] == 2
    (in_seconds,) = await points(client, tenant, seconds_id)
    (in_millis,) = await points(client, tenant, millis_id)
    assert in_seconds[0].isoformat() == "2026-01-15T10:00:00.500000+00:00"
    assert in_millis[0].isoformat() == "2026-01-15T10:00:00.250000+00:00"
    assert in_seconds[1] == in_millis[1] == 2.5
    assert in_millis[2] == {"flag": "true"}


def _unmappable(case: str) -> tuple[bytes, str]:
    """A body the simple mapping cannot handle, and a word its error must contain."""
    if case == "unknown kpi":
        return body_of(simple_payload(1.0, kpi="no.such.kpi")), "no.such.kpi"
    if case == "bad ts":
        return body_of({**simple_payload(1.0), "ts": "15/01/2026 09:00"}), "ts"
    if case == "ts missing":
        return body_of({"kpi": KPI, "value": 1}), "ts"
    if case == "value not a number":
        return body_of({**simple_payload(1.0), "value": "lots"}), "value"
    if case == "huge value":
        return b'{"kpi": "sales.mrr", "ts": "2026-01-15T09:00:00Z", "value": 1%s}' % (
            b"0" * 400
        ), "value"
    if case == "value beyond 1e15":
        return body_of({**simple_payload(1.0), "value": 1e16}), "1e15"
    if case == "NUL in the kpi":
        return body_of(simple_payload(1.0, kpi="sales\x00mrr")), "KPI"
    if case == "lone surrogate in a dimension":
        mapping_body = (
            b'{"kpi": "sales.mrr", "ts": "2026-01-15T09:00:00Z", "value": 1, "region": "e\\ud800"}'
        )
        return mapping_body, "surrogate"
    if case == "not json":
        return b"kpi=sales.mrr&value=1", "JSON"
    return b"\xff\xfe not utf-8", "JSON"


@pytest.mark.parametrize(
    "case",
    [
        "unknown kpi",
        "bad ts",
        "ts missing",
        "value not a number",
        "huge value",
        "value beyond 1e15",
        "NUL in the kpi",
        "lone surrogate in a dimension",
        "not json",
        "bytes",
    ],
)
async def test_unmappable_payload_is_stored_as_failed_and_answered_202(
    client: httpx.AsyncClient, tenant: Tenant, case: str
) -> None:
    kpi_id = await create_kpi(client, tenant)
    body, word = _unmappable(case)
    # standardwebhooks signs text only: bytes that are not UTF-8 come from a GitHub-style sender.
    mappings = [{**SIMPLE_MAPPING, "dimensions": {"region": "region"}}]
    scheme = "hmac_sha256" if case == "bytes" else "standard"
    source = await create_source(client, tenant, scheme, mappings=mappings)
    if case == "bytes":
        headers = {"X-Signature": hmac_signature(source["secret"], body)}
    else:
        headers = standard_headers(source["secret"], body)
    response = await post_hook(client, source["id"], body, headers)
    assert response.status_code == 202, response.text
    reply = response.json()
    assert reply["status"] == "failed"
    assert reply["points_written"] == 0
    assert word in reply["error"]
    (failed,) = await deliveries(client, tenant, source["id"], status="failed")
    assert failed["id"] == reply["delivery_id"]
    assert failed["error"] == reply["error"]
    assert await deliveries(client, tenant, source["id"], status="processed") == []
    assert await points(client, tenant, kpi_id) == []


async def test_for_each_that_is_not_a_list_fails_the_delivery(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_kpi(client, tenant)
    source = await create_source(client, tenant, mappings=[{**SIMPLE_MAPPING, "for_each": "items"}])
    response = await send_standard(client, source, {"items": {"kpi": KPI}})
    assert response.status_code == 202
    assert "for_each" in response.json()["error"]


async def test_missing_kpi_created_then_replayed_idempotently(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    source = await create_source(client, tenant)
    sent = await send_standard(client, source, simple_payload(12.0))
    assert sent.status_code == 202
    delivery_id = sent.json()["delivery_id"]
    kpi_id = await create_kpi(client, tenant)
    replay_url = f"{SOURCES}/{source['id']}/deliveries/{delivery_id}/replay"
    first = await client.post(replay_url, headers=tenant.headers)
    assert first.status_code == 200, first.text
    assert first.json()["id"] == delivery_id
    assert first.json()["status"] == "processed"
    assert first.json()["error"] is None
    assert first.json()["points_written"] == 1
    stored = await points(client, tenant, kpi_id)
    assert [value for _, value, _ in stored] == [12.0]

    second = await client.post(replay_url, headers=tenant.headers)
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "processed"
    assert await points(client, tenant, kpi_id) == stored
    assert await daily_series(client, tenant, kpi_id) == {"2026-01-15": (12.0, 1)}
    (listed,) = await deliveries(client, tenant, source["id"])
    assert listed["status"] == "processed"


async def test_replaying_twice_gives_the_same_delivery_record(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    sent = await send_standard(client, source, simple_payload(12.0))
    assert sent.status_code == 200
    replay_url = f"{SOURCES}/{source['id']}/deliveries/{sent.json()['delivery_id']}/replay"
    first = (await client.post(replay_url, headers=tenant.headers)).json()
    second = (await client.post(replay_url, headers=tenant.headers)).json()
    # Idempotent: a replay that rewrites the same point does not turn the delivery's
    # record into "processed, 0 points written".
    assert sent.json()["points_written"] == 1
    assert first["points_written"] == second["points_written"] == 1
    (listed,) = await deliveries(client, tenant, source["id"])
    assert listed["points_written"] == 1


async def test_mapping_fixed_by_patch_then_replayed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    wrong = {"kpi": "'sales.mrr'", "ts": "created", "value": "amount"}
    source = await create_source(client, tenant, mappings=[wrong])
    payload = {"occurred_at": 1768471200000, "amount": 250, "plan": "pro"}
    sent = await send_standard(client, source, payload)
    assert sent.status_code == 202
    assert "ts" in sent.json()["error"]
    fixed = {**wrong, "ts": "occurred_at", "dimensions": {"plan": "plan"}}
    patched = await client.patch(
        f"{SOURCES}/{source['id']}", headers=tenant.headers, json={"mappings": [fixed]}
    )
    assert patched.status_code == 200, patched.text
    replayed = await client.post(
        f"{SOURCES}/{source['id']}/deliveries/{sent.json()['delivery_id']}/replay",
        headers=tenant.headers,
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "processed"
    assert await points(client, tenant, kpi_id) == expected_points(
        [("2026-01-15T10:00:00Z", 250.0, {"plan": "pro"})]
    )
    assert await deliveries(client, tenant, source["id"], status="failed") == []
    assert len(await deliveries(client, tenant, source["id"], status="processed")) == 1


async def test_deliveries_are_paginated_newest_first(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    sent = []
    for hour in range(5):
        kpi = KPI if hour % 2 == 0 else "no.such.kpi"
        response = await send_standard(client, source, simple_payload(1.0, hour=hour, kpi=kpi))
        sent.append(response.json()["delivery_id"])
    seen: list[dict[str, Any]] = []
    params = {"limit": "2"}
    while True:
        response = await client.get(
            f"{SOURCES}/{source['id']}/deliveries", headers=tenant.headers, params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert [item["id"] for item in seen] == sent[::-1]
    assert [item["received_at"] for item in seen] == sorted(
        (item["received_at"] for item in seen), reverse=True
    )
    assert set(seen[0]) >= {"id", "received_at", "status", "error", "points_written"}
    failed = await deliveries(client, tenant, source["id"], status="failed")
    assert [item["id"] for item in failed] == [sent[3], sent[1]]
    bad = await client.get(
        f"{SOURCES}/{source['id']}/deliveries", headers=tenant.headers, params={"status": "x"}
    )
    assert ["query", "status"] in error_locs(assert_problem(bad, 422))


async def test_another_orgs_deliveries_cannot_be_replayed(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_source(client, tenant)
    theirs = await create_source(client, other_tenant)
    their_delivery = (await send_standard(client, theirs, simple_payload(1.0))).json()
    my_delivery = (await send_standard(client, mine, simple_payload(1.0))).json()
    assert their_delivery["status"] == my_delivery["status"] == "failed"  # no KPI yet
    await create_kpi(client, other_tenant)
    for source_id, delivery_id in (
        (mine["id"], their_delivery["delivery_id"]),
        (theirs["id"], their_delivery["delivery_id"]),
        (theirs["id"], my_delivery["delivery_id"]),
    ):
        url = f"{SOURCES}/{source_id}/deliveries/{delivery_id}/replay"
        assert_problem(await client.post(url, headers=tenant.headers), 404)
    assert_problem(
        await client.get(f"{SOURCES}/{theirs['id']}/deliveries", headers=tenant.headers), 404
    )
    (still,) = await deliveries(client, other_tenant, theirs["id"])
    assert still["status"] == "failed"
    assert [item["id"] for item in await deliveries(client, tenant, mine["id"])] == [
        my_delivery["delivery_id"]
    ]


async def test_points_land_only_in_the_sources_org(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    my_kpi = await create_kpi(client, tenant)
    their_kpi = await create_kpi(client, other_tenant)  # the same key in another org
    source = await create_source(client, tenant)
    response = await send_standard(client, source, simple_payload(3.0))
    assert response.status_code == 200, response.text
    assert [value for _, value, _ in await points(client, tenant, my_kpi)] == [3.0]
    assert await points(client, other_tenant, their_kpi) == []
    assert await daily_series(client, other_tenant, their_kpi) == {}
    other_source = await create_source(client, other_tenant)
    assert (await send_standard(client, other_source, simple_payload(4.0))).status_code == 200
    assert [value for _, value, _ in await points(client, tenant, my_kpi)] == [3.0]
    assert [value for _, value, _ in await points(client, other_tenant, their_kpi)] == [4.0]
