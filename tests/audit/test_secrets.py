"""No secret reaches the audit log: not as shown once, not as stored (hashed or
encrypted), not under any field name."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.audit.changes import is_secret, snapshot, without_secrets
from perfapi.models import ApiKey, WebhookEndpoint, WebhookSource
from tests.audit.helpers import AUDIT, entries
from tests.support import Tenant
from tests.webhooks.helpers import SIMPLE_MAPPING

SOURCES = "/v1/webhook-sources"
ENDPOINTS = "/v1/webhook-endpoints"


async def _shown_secrets(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    """Create and rotate what has secrets; every secret the API showed."""
    shown: list[str] = []
    for scheme in ("standard", "hmac_sha256"):
        body = {"name": f"s-{scheme}", "scheme": scheme, "mappings": [SIMPLE_MAPPING]}
        source = (await client.post(SOURCES, headers=tenant.headers, json=body)).json()
        shown.append(source["secret"])
        for overlap in (3600, 0):
            rotated = await client.post(
                f"{SOURCES}/{source['id']}/rotate-secret",
                headers=tenant.headers,
                json={"overlap_seconds": overlap},
            )
            assert rotated.status_code == 200, rotated.text
            shown.append(rotated.json()["secret"])
    made = await client.post(
        ENDPOINTS, headers=tenant.headers, json={"url": "http://127.0.0.1:9/", "events": ["*"]}
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    shown.append(endpoint["secret"])
    rotated = await client.post(
        f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", headers=tenant.headers
    )
    shown.append(rotated.json()["secret"])
    key = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={"name": "k", "scopes": ["read"]}
    )
    shown.append(key.json()["key"])
    await client.post(f"/v1/api-keys/{key.json()['id']}/revoke", headers=tenant.headers)
    await client.delete(f"{SOURCES}/{source['id']}", headers=tenant.headers)
    await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers)
    return shown


async def _stored_secrets(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """The secrets as stored: key hashes (hex), source and endpoint secret columns."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT encode(secret_hash, 'hex') FROM api_keys UNION ALL "
                "SELECT secret FROM webhook_sources UNION ALL "
                "SELECT previous_secret FROM webhook_sources UNION ALL "
                "SELECT secret FROM webhook_endpoints UNION ALL "
                "SELECT previous_secret FROM webhook_endpoints"
            )
        )
        return [value for (value,) in rows if value]


async def test_no_secret_value_is_in_any_entry(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    stored_before_deletes = await _stored_secrets(sessionmaker)
    shown = await _shown_secrets(client, tenant)
    stored = stored_before_deletes + await _stored_secrets(sessionmaker)
    listed = await entries(client, tenant)
    actions = {entry["action"] for entry in listed}
    assert {"webhook_source.secret_rotated", "webhook_endpoint.secret_rotated"} <= actions
    assert {"api_key.created", "api_key.revoked", "webhook_source.deleted"} <= actions
    exports = [
        (await client.get(f"{AUDIT}?format={form}", headers=tenant.headers)).text
        for form in ("csv", "ndjson")
    ]
    for document in [str(listed), *exports]:
        for secret in shown + stored:
            # The distinctive part: a standard secret's `whsec_` is in no value, but the
            # base64 after it would be.
            assert secret.removeprefix("whsec_") not in document
    for entry in listed:
        assert not [name for name in entry["changes"] if is_secret(name)], entry


def test_secret_fields_are_never_read_or_kept() -> None:
    for model in (ApiKey, WebhookSource, WebhookEndpoint):
        columns = {column.name for column in model.__table__.columns}
        assert {"secret_hash"} <= columns or {"secret", "previous_secret"} <= columns
    for name in ("secret", "previous_secret", "secret_hash", "secret_ciphertext"):
        assert is_secret(name)
    for name in ("previous_secret_expires_at", "key", "name", "prefix", "scopes"):
        assert not is_secret(name)
    assert without_secrets({"secret": ("a", "b"), "name": ("x", "y")}) == {"name": ("x", "y")}
    source = WebhookSource(
        name="n",
        scheme="standard",
        mappings=[],
        enabled=True,
        rate_limit_per_minute=1,
        secret="whsec_c2VjcmV0",
        previous_secret="whsec_b2xk",
        previous_secret_expires_at=None,
        signature_header=None,
        delivery_id_header=None,
    )
    assert "whsec" not in str(snapshot(source))
    assert "previous_secret_expires_at" in snapshot(source)
