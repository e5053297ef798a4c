"""Helpers of the webhook tests: sources, signed deliveries, and what got stored."""

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from tests.support import Tenant

SOURCES = "/v1/webhook-sources"
SIMPLE_MAPPING: dict[str, Any] = {"kpi": "kpi", "ts": "ts", "value": "value"}
KPI = "sales.mrr"
DAY = "2026-01-15"

Point = tuple[datetime, float, dict[str, str]]


def body_of(payload: object) -> bytes:
    return json.dumps(payload).encode()


def simple_payload(value: float = 1.0, hour: int = 9, kpi: str = KPI) -> dict[str, Any]:
    """A payload for ``SIMPLE_MAPPING``: one point of ``kpi`` on 2026-01-15."""
    return {"kpi": kpi, "ts": f"{DAY}T{hour:02d}:00:00Z", "value": value}


async def create_source(
    client: httpx.AsyncClient,
    tenant: Tenant,
    scheme: str = "standard",
    mappings: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A source (the create response, with its secret)."""
    body = {
        "name": extra.pop("name", f"source-{uuid.uuid4().hex[:8]}"),
        "scheme": scheme,
        "mappings": mappings or [SIMPLE_MAPPING],
        **extra,
    }
    response = await client.post(SOURCES, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def standard_headers(
    secret: str, body: bytes, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Headers a Standard Webhooks sender sends, signed by the ``standardwebhooks`` package."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def hmac_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``, made by hand as GitHub-style senders do."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_hook(
    client: httpx.AsyncClient, source_id: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/v1/hooks/{source_id}", content=body, headers=headers)


async def send_standard(
    client: httpx.AsyncClient,
    source: dict[str, Any],
    payload: object,
    msg_id: str | None = None,
    secret: str | None = None,
) -> httpx.Response:
    body = body_of(payload)
    headers = standard_headers(secret or source["secret"], body, msg_id)
    return await post_hook(client, source["id"], body, headers)


async def send_hmac(
    client: httpx.AsyncClient,
    source: dict[str, Any],
    payload: object,
    secret: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = body_of(payload)
    headers = {
        source["signature_header"]: hmac_signature(secret or source["secret"], body),
        "content-type": "application/json",
        **(extra_headers or {}),
    }
    return await post_hook(client, source["id"], body, headers)


async def deliveries(
    client: httpx.AsyncClient, tenant: Tenant, source_id: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{SOURCES}/{source_id}/deliveries", headers=tenant.headers, params=params
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def points(client: httpx.AsyncClient, tenant: Tenant, kpi_id: str) -> list[Point]:
    """The KPI's points, oldest first, as (ts, value, dimensions)."""
    response = await client.get(
        f"/v1/kpis/{kpi_id}/points", headers=tenant.headers, params={"limit": "500"}
    )
    assert response.status_code == 200, response.text
    found = [
        (datetime.fromisoformat(item["ts"]), item["value"], item["dimensions"])
        for item in response.json()["items"]
    ]
    return sorted(found, key=lambda point: (point[0], sorted(point[2].items())))


async def daily_series(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str
) -> dict[str, tuple[float | None, int]]:
    """The KPI's day buckets of January 2026 that hold points: {day: (value, count)}."""
    response = await client.get(
        f"/v1/kpis/{kpi_id}/series",
        headers=tenant.headers,
        params={"from": "2026-01-01", "to": "2026-02-01", "interval": "day"},
    )
    assert response.status_code == 200, response.text
    buckets = response.json()["buckets"]
    assert len(buckets) == 31
    return {
        bucket["start"][:10]: (bucket["value"], bucket["count"])
        for bucket in buckets
        if bucket["count"]
    }


def expected_points(expected: list[tuple[str, float, dict[str, str]]]) -> list[Point]:
    found = [(datetime.fromisoformat(ts), value, dims) for ts, value, dims in expected]
    return sorted(found, key=lambda point: (point[0], sorted(point[2].items())))


async def assert_nothing_stored(
    client: httpx.AsyncClient, tenant: Tenant, source_id: str, kpi_id: str
) -> None:
    assert await deliveries(client, tenant, source_id) == []
    assert await points(client, tenant, kpi_id) == []


def minutes_from_now(minutes: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)
