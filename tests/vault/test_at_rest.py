"""Secrets at rest through the real app: the columns hold ciphertext only, signing and
verifying still work, and a secret that does not decrypt fails its own source or
endpoint cleanly, never anything else."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from perfapi.config import Settings
from perfapi.vault.keys import encode_key, key_id_of, new_key
from perfapi.vault.setup import keyring_of
from perfapi.webhook_endpoints.delivery import attempt
from perfapi.webhook_endpoints.sender import Sender
from tests.support import Tenant, assert_problem, running
from tests.vault.helpers import STORED_FORM, Sessions, opened, overwrite, stored, tampered
from tests.webhook_endpoints.receiver import receiving
from tests.webhook_endpoints.rounds import due
from tests.webhooks.helpers import (
    KPI,
    SIMPLE_MAPPING,
    SOURCES,
    create_source,
    deliveries,
    send_hmac,
    send_standard,
    simple_payload,
)

ENDPOINTS = "/v1/webhook-endpoints"


def now() -> datetime:
    """Now, at each use: receivers refuse signatures with timestamps far from their clock."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    sender = Sender(timeout_seconds=5.0, allow_private=True)
    yield sender
    await sender.aclose()


async def _kpi(client: httpx.AsyncClient, tenant: Tenant, key: str = KPI) -> None:
    response = await client.post("/v1/kpis", headers=tenant.headers, json={"key": key, "name": key})
    assert response.status_code == 201, response.text


async def _endpoint(client: httpx.AsyncClient, tenant: Tenant, url: str) -> dict[str, str]:
    response = await client.post(
        ENDPOINTS, headers=tenant.headers, json={"url": url, "events": ["*"]}
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def _assert_sealed(value: str | None, secret: str, current_id: str) -> None:
    assert value is not None
    assert STORED_FORM.fullmatch(value), value
    assert key_id_of(value) == current_id
    assert secret not in value
    assert secret.removeprefix("whsec_") not in value


async def test_sources_store_only_ciphertext_and_still_verify_after_rotation(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions, settings: Settings
) -> None:
    keyring = keyring_of(settings)
    await _kpi(client, tenant)
    standard = await create_source(client, tenant)
    hmac_source = await create_source(client, tenant, scheme="hmac_sha256")
    for source in (standard, hmac_source):
        secret, previous = await stored(sessionmaker, "webhook_sources", source["id"])
        _assert_sealed(secret, source["secret"], keyring.current_id)
        assert previous is None
        plain = opened(keyring, secret, "webhook_sources", "secret", tenant.id, source["id"])
        assert plain == source["secret"]

    rotated = await client.post(f"{SOURCES}/{standard['id']}/rotate-secret", headers=tenant.headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    secret, previous = await stored(sessionmaker, "webhook_sources", standard["id"])
    _assert_sealed(secret, new_secret, keyring.current_id)
    _assert_sealed(previous, standard["secret"], keyring.current_id)
    assert previous is not None
    assert (
        opened(keyring, previous, "webhook_sources", "previous_secret", tenant.id, standard["id"])
        == standard["secret"]
    )
    # Verification decrypts both: the new secret and, during the overlap, the old one.
    for number, key in enumerate((new_secret, standard["secret"])):
        answer = await send_standard(client, standard, simple_payload(number), secret=key)
        assert answer.status_code == 200, answer.text
    answer = await send_hmac(client, hmac_source, simple_payload(7.0, hour=11))
    assert answer.status_code == 200, answer.text
    wrong = await send_standard(
        client, standard, simple_payload(), secret=rotated.json()["secret"][:-4] + "AAA="
    )
    assert_problem(wrong, 401, "invalid-signature")


async def test_endpoints_store_only_ciphertext_and_sign_after_rotation(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    settings: Settings,
    sender: Sender,
) -> None:
    keyring = keyring_of(settings)
    async with receiving() as receiver:
        endpoint = await _endpoint(client, tenant, receiver.url)
        secret, previous = await stored(sessionmaker, "webhook_endpoints", endpoint["id"])
        _assert_sealed(secret, endpoint["secret"], keyring.current_id)
        assert previous is None
        rotated = await client.post(
            f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", headers=tenant.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        secret, previous = await stored(sessionmaker, "webhook_endpoints", endpoint["id"])
        _assert_sealed(secret, new_secret, keyring.current_id)
        _assert_sealed(previous, endpoint["secret"], keyring.current_id)

        await _kpi(client, tenant)
        [claimed] = await due(sessionmaker, settings, now(), 10)
        assert (await attempt(sessionmaker, settings, sender, claimed, now)).succeeded
    [request] = receiver.received
    # Signed under both secrets during the overlap: a receiver holding either accepts it.
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_a_source_secret_altered_or_moved_fails_that_source_alone(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _kpi(client, tenant)
    await _kpi(client, other_tenant)
    altered = await create_source(client, tenant, name="altered")
    moved = await create_source(client, tenant, name="moved")
    theirs = await create_source(client, other_tenant, name="theirs")
    altered_secret, _ = await stored(sessionmaker, "webhook_sources", altered["id"])
    theirs_secret, _ = await stored(sessionmaker, "webhook_sources", theirs["id"])
    await overwrite(
        sessionmaker, "webhook_sources", altered["id"], "secret", tampered(altered_secret)
    )
    # Another org's ciphertext copied in: it would verify that org's signatures, were it
    # not bound to its own row.
    await overwrite(sessionmaker, "webhook_sources", moved["id"], "secret", theirs_secret)

    with caplog.at_level(logging.ERROR, logger="perfapi.webhooks.service"):
        for source, secret in ((altered, altered["secret"]), (moved, theirs["secret"])):
            answer = await send_standard(client, source, simple_payload(), secret=secret)
            body = assert_problem(answer, 503, "secret-unreadable")
            assert "cannot be decrypted on this server" in body["detail"]
            assert await deliveries(client, tenant, source["id"]) == []
    assert f"webhook source {altered['id']} cannot be decrypted" in caplog.text
    assert "altered, or copied from another row or column" in caplog.text
    assert f"webhook source {moved['id']} cannot be decrypted" in caplog.text
    # Everything else goes on: the org's other source and the other org.
    assert (await send_standard(client, theirs, simple_payload())).status_code == 200

    # Rotating repairs the source: a fresh secret, no overlap with the one that is lost.
    rotated = await client.post(f"{SOURCES}/{altered['id']}/rotate-secret", headers=tenant.headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_expires_at"] is None
    answer = await send_standard(client, altered, simple_payload(), secret=rotated.json()["secret"])
    assert answer.status_code == 200, answer.text


async def test_an_endpoint_secret_that_does_not_decrypt_fails_its_attempt_alone(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: Sessions,
    settings: Settings,
    sender: Sender,
) -> None:
    async with receiving() as receiver:
        broken = await _endpoint(client, tenant, receiver.url + "/broken")
        healthy = await _endpoint(client, other_tenant, receiver.url + "/healthy")
        secret, _ = await stored(sessionmaker, "webhook_endpoints", broken["id"])
        await overwrite(sessionmaker, "webhook_endpoints", broken["id"], "secret", tampered(secret))
        await _kpi(client, tenant)
        await _kpi(client, other_tenant)
        claimed = await due(sessionmaker, settings, now(), 10)
        answers = {
            str(item.endpoint_id): await attempt(sessionmaker, settings, sender, item, now)
            for item in claimed
        }
    assert answers[healthy["id"]].succeeded
    assert answers[broken["id"]].status is None
    [request] = receiver.received
    assert request.path == "/hooks/healthy"
    Webhook(healthy["secret"]).verify(request.body, request.headers)
    listed = await client.get(f"{ENDPOINTS}/{broken['id']}/attempts", headers=tenant.headers)
    [failed] = listed.json()["items"]
    assert failed["status"] == "failed"
    assert failed["response_status"] is None
    assert failed["error"].startswith("not sent: the signing secret cannot be decrypted: ")
    assert "altered, or copied from another row or column" in failed["error"]
    got = await client.get(f"{ENDPOINTS}/{broken['id']}", headers=tenant.headers)
    assert got.json()["failing_since"] is not None


async def test_a_server_without_the_key_fails_cleanly(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    settings: Settings,
    sender: Sender,
) -> None:
    await _kpi(client, tenant)
    source = await create_source(client, tenant)
    async with receiving() as receiver:
        endpoint = await _endpoint(client, tenant, receiver.url)
        await _kpi(client, tenant, "another")
        stranger = settings.model_copy(update={"secret_key": SecretStr(encode_key(new_key()))})
        async with running(stranger) as elsewhere:
            answer = await send_standard(elsewhere, source, simple_payload())
            assert_problem(answer, 503, "secret-unreadable")
        [claimed] = await due(sessionmaker, stranger, now(), 10)
        refused = await attempt(sessionmaker, stranger, sender, claimed, now)
    assert receiver.received == []
    assert refused.error is not None
    assert "which this server does not have" in refused.error
    listed = await client.get(f"{ENDPOINTS}/{endpoint['id']}/attempts", headers=tenant.headers)
    assert listed.json()["items"][0]["error"] == refused.error
    # The right key still reads everything.
    assert (await send_standard(client, source, simple_payload())).status_code == 200


async def test_a_key_file_lost_while_serving_is_a_503_without_details(
    tenant: Tenant, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    async with running(settings.model_copy(update={"data_dir": data_dir})) as http:
        source = await create_source(http, tenant)
        (data_dir / "secret.key").unlink()
        with caplog.at_level(logging.ERROR, logger="perfapi.vault.dependencies"):
            refused = await http.post(
                SOURCES,
                headers=tenant.headers,
                json={"name": "t", "scheme": "standard", "mappings": [SIMPLE_MAPPING]},
            )
            body = assert_problem(refused, 503, "secret-keys-unavailable")
            hook = await send_standard(http, source, simple_payload())
            assert_problem(hook, 503, "secret-keys-unavailable")
    assert str(data_dir) not in body["detail"]
    assert f"the secret key file {data_dir / 'secret.key'} is missing" in caplog.text
