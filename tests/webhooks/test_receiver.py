"""POST /v1/hooks/{source_id}: signatures, redeliveries, rotation, limits, outages."""

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from perfapi.config import Settings
from tests.points.helpers import create_kpi
from tests.support import Tenant, assert_problem, running
from tests.webhooks.helpers import (
    SIMPLE_MAPPING,
    SOURCES,
    assert_nothing_stored,
    body_of,
    create_source,
    deliveries,
    hmac_signature,
    minutes_from_now,
    points,
    post_hook,
    send_hmac,
    send_standard,
    simple_payload,
    standard_headers,
)

# A Standard Webhooks secret that is not the source's.
FORGED = "whsec_" + base64.b64encode(b"not the source's secret, 32 bytes").decode()


async def test_standard_delivery_signed_by_a_real_sender_is_stored(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    response = await send_standard(client, source, simple_payload(42.0))
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["status"] == "processed"
    assert reply["points_written"] == 1
    assert reply["error"] is None
    assert "webhook-redelivery" not in response.headers
    assert await points(client, tenant, kpi_id) == [
        (datetime(2026, 1, 15, 9, tzinfo=UTC), 42.0, {})
    ]
    (delivery,) = await deliveries(client, tenant, source["id"])
    assert delivery["id"] == reply["delivery_id"]
    assert delivery["status"] == "processed"
    assert delivery["points_written"] == 1


async def test_one_valid_signature_among_several_passes(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    body = body_of(simple_payload(3.0))
    headers = standard_headers(source["secret"], body)
    forged = "v1," + base64.b64encode(b"\x00" * 32).decode()
    headers["webhook-signature"] = f"{forged} v2,abc {headers['webhook-signature']} v1,@@@"
    response = await post_hook(client, source["id"], body, headers)
    assert response.status_code == 200, response.text
    assert len(await points(client, tenant, kpi_id)) == 1


def _forge(case: str, secret: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    """A standard delivery spoiled in one way."""
    if case == "stale":
        return body, standard_headers(secret, body, at=minutes_from_now(-6))
    if case == "future":
        return body, standard_headers(secret, body, at=minutes_from_now(6))
    if case == "other secret":
        other = "whsec_" + base64.b64encode(b"k" * 32).decode()
        return body, standard_headers(other, body)
    headers = standard_headers(secret, body)
    if case.startswith("no "):
        del headers[case.removeprefix("no ")]
    elif case == "forged":
        headers["webhook-signature"] = "v1," + base64.b64encode(b"\x01" * 32).decode()
    elif case == "body changed":
        body = body.replace(b"1.0", b"1000.0")
    elif case == "id changed":
        headers["webhook-id"] = "msg_other"
    elif case == "timestamp not a number":
        headers["webhook-timestamp"] = "yesterday"
    elif case == "v1 missing":
        headers["webhook-signature"] = headers["webhook-signature"].removeprefix("v1,")
    return body, headers


@pytest.mark.parametrize(
    "case",
    [
        "no webhook-id",
        "no webhook-timestamp",
        "no webhook-signature",
        "forged",
        "stale",
        "future",
        "body changed",
        "id changed",
        "other secret",
        "timestamp not a number",
        "v1 missing",
    ],
)
async def test_refused_standard_delivery_is_401_and_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, case: str
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    body, headers = _forge(case, source["secret"], body_of(simple_payload(1.0)))
    assert_problem(await post_hook(client, source["id"], body, headers), 401, "invalid-signature")
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1={digest}",
        "{digest}",
        "sha256={wrong}",
        "sha256=",
        "sha256=not-hex-at-all",
        "sha256={digest}\u00e9",
    ],
)
async def test_refused_hmac_delivery_is_401_and_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, header: str | None
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, "hmac_sha256")
    body = body_of(simple_payload(1.0))
    digest = hmac_signature(source["secret"], body).removeprefix("sha256=")
    wrong = hmac_signature("not the secret", body).removeprefix("sha256=")
    headers: dict[str, Any] = {"content-type": "application/json"}
    if header is not None:
        # Header values go on the wire as bytes; latin-1 is how HTTP carries non-ASCII.
        headers["X-Signature"] = header.format(digest=digest, wrong=wrong).encode("latin-1")
    assert_problem(await post_hook(client, source["id"], body, headers), 401, "invalid-signature")
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)


async def test_hmac_signed_by_hand_is_accepted_case_insensitively(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, "hmac_sha256")
    body = body_of(simple_payload(7.0))
    digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    headers = {"x-signature": "sha256=" + digest.upper(), "content-type": "application/json"}
    response = await post_hook(client, source["id"], body, headers)
    assert response.status_code == 200, response.text
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [7.0]


async def test_standard_redelivery_gets_the_first_answer_and_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    body = body_of(simple_payload(10.0))
    first = await post_hook(
        client, source["id"], body, standard_headers(source["secret"], body, "msg_1")
    )
    assert first.status_code == 200, first.text
    # A retry: same id, signed again a minute later (as senders do), even with another body.
    for again_body in (body, body_of(simple_payload(99.0))):
        headers = standard_headers(source["secret"], again_body, "msg_1", minutes_from_now(-1))
        again = await post_hook(client, source["id"], again_body, headers)
        assert again.status_code == first.status_code
        assert again.json() == first.json()
        assert again.headers["webhook-redelivery"] == "true"
    assert len(await deliveries(client, tenant, source["id"])) == 1
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [10.0]


async def test_redelivery_of_a_failed_delivery_gets_the_same_202(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    payload = simple_payload(1.0, kpi="no.such.kpi")
    first = await send_standard(client, source, payload, msg_id="msg_failed")
    again = await send_standard(client, source, payload, msg_id="msg_failed")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["webhook-redelivery"] == "true"
    assert len(await deliveries(client, tenant, source["id"])) == 1
    assert await points(client, tenant, kpi_id) == []


async def test_a_long_webhook_id_is_stored_and_deduplicated(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    msg_id = "msg_" + secrets.token_hex(3000)  # the spec sets no length limit
    first = await send_standard(client, source, simple_payload(4.0), msg_id=msg_id)
    assert first.status_code == 200, first.text
    again = await send_standard(client, source, simple_payload(4.0), msg_id=msg_id)
    assert again.json() == first.json()
    assert again.headers["webhook-redelivery"] == "true"
    assert len(await deliveries(client, tenant, source["id"])) == 1
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [4.0]


async def test_concurrent_duplicates_are_counted_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    body = body_of(simple_payload(5.0))
    headers = standard_headers(source["secret"], body, "msg_twin")
    responses = await asyncio.gather(
        *(post_hook(client, source["id"], body, headers) for _ in range(4))
    )
    assert [response.status_code for response in responses] == [200] * 4
    assert len({response.json()["delivery_id"] for response in responses}) == 1
    assert sum("webhook-redelivery" not in response.headers for response in responses) == 1
    assert len(await deliveries(client, tenant, source["id"])) == 1
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [5.0]


async def test_hmac_without_an_id_header_dedupes_by_body(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, "hmac_sha256")
    first = await send_hmac(client, source, simple_payload(1.0))
    again = await send_hmac(client, source, simple_payload(1.0))
    other = await send_hmac(client, source, simple_payload(2.0, hour=10))
    assert first.status_code == again.status_code == other.status_code == 200
    assert again.json() == first.json()
    assert again.headers["webhook-redelivery"] == "true"
    assert "webhook-redelivery" not in other.headers
    assert len(await deliveries(client, tenant, source["id"])) == 2
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0, 2.0]


async def test_hmac_with_an_id_header_dedupes_by_that_header(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, "hmac_sha256", delivery_id_header="X-Delivery")
    assert source["delivery_id_header"] == "X-Delivery"
    first = await send_hmac(client, source, simple_payload(1.0), extra_headers={"X-Delivery": "a"})
    # Same id, new body: a redelivery. Same body, new id: another delivery (same point).
    same_id = await send_hmac(
        client, source, simple_payload(9.0), extra_headers={"x-delivery": "a"}
    )
    new_id = await send_hmac(client, source, simple_payload(1.0), extra_headers={"X-Delivery": "b"})
    assert same_id.json() == first.json()
    assert same_id.headers["webhook-redelivery"] == "true"
    assert new_id.status_code == 200
    assert "webhook-redelivery" not in new_id.headers
    assert new_id.json()["delivery_id"] != first.json()["delivery_id"]
    assert len(await deliveries(client, tenant, source["id"])) == 2
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0]


async def test_hmac_delivery_ids_are_compared_whole(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, "hmac_sha256", delivery_id_header="X-Delivery")
    prefix = "evt-" + "0" * 250
    for number in (1, 2):
        response = await send_hmac(
            client,
            source,
            simple_payload(float(number), hour=number),
            extra_headers={"X-Delivery": f"{prefix}{number}"},
        )
        assert response.status_code == 200, response.text
        assert "webhook-redelivery" not in response.headers  # two deliveries, none lost
    assert len(await deliveries(client, tenant, source["id"])) == 2
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0, 2.0]


@pytest.mark.parametrize("scheme", ["standard", "hmac_sha256"])
async def test_rotated_secret_overlap(
    client: httpx.AsyncClient, tenant: Tenant, scheme: str
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, scheme)
    send = send_standard if scheme == "standard" else send_hmac
    old = source["secret"]
    url = f"{SOURCES}/{source['id']}/rotate-secret"
    rotated = await client.post(url, headers=tenant.headers)
    new = rotated.json()["secret"]
    assert (await send(client, source, simple_payload(1.0, hour=1), secret=old)).status_code == 200
    assert (await send(client, source, simple_payload(2.0, hour=2), secret=new)).status_code == 200

    closed = await client.post(url, headers=tenant.headers, json={"overlap_seconds": 0})
    assert closed.json()["previous_secret_expires_at"] is None
    newest = closed.json()["secret"]
    for refused in (old, new):
        response = await send(client, source, simple_payload(3.0, hour=3), secret=refused)
        assert_problem(response, 401)
    assert len(await deliveries(client, tenant, source["id"])) == 2
    assert len(await points(client, tenant, kpi_id)) == 2
    ok = await send(client, source, simple_payload(4.0, hour=4), secret=newest)
    assert ok.status_code == 200
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0, 2.0, 4.0]


async def test_disabled_and_unknown_sources_are_404(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    url = f"{SOURCES}/{source['id']}"
    disabled = await client.patch(url, headers=tenant.headers, json={"enabled": False})
    assert disabled.json()["enabled"] is False
    assert_problem(await send_standard(client, source, simple_payload(1.0)), 404, "not-found")
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)
    await client.patch(url, headers=tenant.headers, json={"enabled": True})
    assert (await send_standard(client, source, simple_payload(1.0))).status_code == 200

    unknown = {**source, "id": str(uuid.uuid4())}
    assert_problem(await send_standard(client, unknown, simple_payload(2.0)), 404)
    created_disabled = await create_source(client, tenant, enabled=False)
    assert_problem(await send_standard(client, created_disabled, simple_payload(2.0)), 404)
    assert await deliveries(client, tenant, created_disabled["id"]) == []
    assert len(await points(client, tenant, kpi_id)) == 1


async def test_payload_over_the_body_limit_is_413(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    payload = {**simple_payload(1.0), "padding": "x" * (1024 * 1024)}
    assert_problem(await send_standard(client, source, payload), 413, "content-too-large")
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)
    # Streamed without Content-Length: cut off as it passes the limit.
    body = body_of(payload)
    headers = standard_headers(source["secret"], body)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    streamed = await client.post(f"/v1/hooks/{source['id']}", content=chunks(), headers=headers)
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert_problem(streamed, 413, "content-too-large")
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)
    fits = {**simple_payload(1.0), "padding": "x" * (1024 * 1024 - 200)}
    assert (await send_standard(client, source, fits)).status_code == 200


async def test_rate_limit_is_429_with_retry_after(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, rate_limit_per_minute=2)
    sent = [await send_standard(client, source, simple_payload(1.0, hour=h)) for h in (1, 2, 3)]
    assert [response.status_code for response in sent] == [200, 200, 429]
    assert_problem(sent[2], 429, "too-many-requests")
    retry_after = sent[2].headers["retry-after"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= 60
    assert len(await deliveries(client, tenant, source["id"])) == 2
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0, 1.0]
    # The limit is per source: another source of the org is not slowed down.
    other = await create_source(client, tenant)
    assert (await send_standard(client, other, simple_payload(1.0, hour=3))).status_code == 200


async def test_delivery_during_a_database_outage_is_not_acknowledged(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    body = body_of(simple_payload(8.0))
    headers = standard_headers(source["secret"], body, "msg_outage")
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/perfapi"}
    )
    async with running(down) as http:
        response = await post_hook(http, source["id"], body, headers)
    assert_problem(response, 503, "service-unavailable")
    assert int(response.headers["retry-after"]) > 0
    await assert_nothing_stored(client, tenant, source["id"], kpi_id)
    # The sender retries once the database is back: a first delivery, not a redelivery.
    retried = await post_hook(client, source["id"], body, headers)
    assert retried.status_code == 200, retried.text
    assert "webhook-redelivery" not in retried.headers
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [8.0]


async def test_forged_requests_do_not_use_up_the_rate_limit(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, rate_limit_per_minute=2)
    for hour in (1, 2, 3):
        forged = await send_standard(client, source, simple_payload(1.0, hour=hour), secret=FORGED)
        assert_problem(forged, 401, "invalid-signature")
        assert "www-authenticate" not in forged.headers
    sent = [await send_standard(client, source, simple_payload(2.0, hour=h)) for h in (4, 5)]
    assert [response.status_code for response in sent] == [200, 200]
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [2.0, 2.0]


async def test_empty_labels_leave_the_dimension_out(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    mapping = {**SIMPLE_MAPPING, "dimensions": {"team": "team", "site": "site"}}
    source = await create_source(client, tenant, mappings=[mapping])
    payload = {**simple_payload(3.0), "team": "", "site": "berlin"}
    response = await send_standard(client, source, payload)
    assert response.status_code == 200, response.text
    assert [dims for _, _, dims in await points(client, tenant, kpi_id)] == [{"site": "berlin"}]


@pytest.mark.parametrize("name", ["bad name!", "", "-leading", "x" * 65])
async def test_dimension_names_are_checked_when_a_source_is_created(
    client: httpx.AsyncClient, tenant: Tenant, name: str
) -> None:
    mapping = {**SIMPLE_MAPPING, "dimensions": {name: "team"}}
    response = await client.post(
        "/v1/webhook-sources",
        headers=tenant.headers,
        json={"name": "crm", "scheme": "standard", "mappings": [mapping]},
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"][:4] == ["body", "mappings", 0, "dimensions"]
