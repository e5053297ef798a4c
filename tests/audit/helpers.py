"""Helpers of the audit tests: reading the log, and who the test's key is."""

import socket
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import PREFIX_LENGTH
from perfapi.config import Settings
from perfapi.webhook_endpoints.delivery import attempt
from perfapi.webhook_endpoints.sender import Sender
from tests.support import Tenant
from tests.webhook_endpoints.rounds import due

AUDIT = "/v1/audit-events"
Entry = dict[str, Any]


async def entries(client: httpx.AsyncClient, tenant: Tenant, query: str = "") -> list[Entry]:
    """The newest 500 entries of the tenant's log (as many as any test writes)."""
    response = await client.get(f"{AUDIT}?limit=500{query}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[Entry] = response.json()["items"]
    return items


async def entries_of(client: httpx.AsyncClient, tenant: Tenant, request_id: str) -> list[Entry]:
    """The entries the request with this id recorded."""
    return [e for e in await entries(client, tenant) if e["request_id"] == request_id]


async def key_id_of(client: httpx.AsyncClient, tenant: Tenant, token: str | None = None) -> str:
    """The id of the API key ``token`` (the tenant's own by default)."""
    prefix = (token or tenant.token)[:PREFIX_LENGTH]
    response = await client.get("/v1/api-keys?limit=500", headers=tenant.headers)
    assert response.status_code == 200, response.text
    [key] = [k for k in response.json()["items"] if k["prefix"] == prefix]
    key_id: str = key["id"]
    return key_id


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: every delivery to it fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> None:
    """One round of the webhook sender at ``now``: fan out, claim, attempt each."""
    sender = Sender(timeout_seconds=5.0, allow_private=True)
    try:
        for item in await due(sessionmaker, settings, now, 100):
            await attempt(sessionmaker, settings, sender, item, clock=lambda: now)
    finally:
        await sender.aclose()
