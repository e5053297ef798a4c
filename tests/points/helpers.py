"""Helpers of the points tests: KPIs, bodies in the three formats, reading points back."""

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.models import Point
from tests.support import Tenant

POINTS = "/v1/points"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
BASE = datetime(2026, 1, 1, tzinfo=UTC)
PAGE_LIMIT = 500


def ts(minute: int) -> str:
    """An RFC 3339 timestamp ``minute`` minutes after 2026-01-01T00:00:00Z."""
    return (BASE + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


def point(kpi: str, minute: int, value: float, **dimensions: str) -> dict[str, Any]:
    made: dict[str, Any] = {"kpi": kpi, "ts": ts(minute), "value": value}
    if dimensions:
        made["dimensions"] = dimensions
    return made


def ndjson(points: Iterable[object]) -> bytes:
    return b"".join(msgspec.json.encode(item) + b"\n" for item in points)


def ndjson_lines(kpi: str, count: int, value: float = 1.0, start: int = 0) -> list[bytes]:
    """``count`` valid NDJSON lines (with newline), one minute apart: fast for big bodies."""
    return [
        b'{"kpi":"%s","ts":"%s","value":%r}\n' % (kpi.encode(), ts(minute).encode(), value)
        for minute in range(start, start + count)
    ]


async def chunked(parts: Iterable[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The parts re-cut into chunks of ``size`` bytes (splitting lines), as a streamed upload."""
    buffer = b""
    for part in parts:
        buffer += part
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


async def create_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str = "sales.mrr") -> str:
    response = await client.post(
        "/v1/kpis", headers=tenant.headers, json={"key": key, "name": f"KPI {key}"}
    )
    assert response.status_code == 201, response.text
    kpi_id: str = response.json()["id"]
    return kpi_id


async def post_json(
    client: httpx.AsyncClient,
    tenant: Tenant,
    points: list[Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        POINTS, headers={**tenant.headers, **(headers or {})}, json={"points": points}
    )


async def post_body(
    client: httpx.AsyncClient,
    tenant: Tenant,
    body: bytes | str | AsyncIterator[bytes],
    content_type: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await client.post(
        POINTS,
        headers={**tenant.headers, "Content-Type": content_type, **(headers or {})},
        content=content,
    )


def counts(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    assert set(body) == {"received", "inserted", "updated", "unchanged"}
    assert body["received"] == body["inserted"] + body["updated"] + body["unchanged"]
    return body


def result(received: int, inserted: int, updated: int, unchanged: int) -> dict[str, int]:
    return {
        "received": received,
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
    }


async def list_points(
    client: httpx.AsyncClient, tenant: Tenant, kpi_id: str, **params: str
) -> list[dict[str, Any]]:
    """Every point of the KPI (all pages), in the API's order."""
    items: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": str(PAGE_LIMIT), **params}
    while True:
        response = await client.get(
            f"/v1/kpis/{kpi_id}/points", headers=tenant.headers, params=query
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


async def assert_no_points(client: httpx.AsyncClient, tenant: Tenant, kpi_id: str) -> None:
    assert await list_points(client, tenant, kpi_id) == []


def by_time(items: list[dict[str, Any]]) -> dict[tuple[datetime, str], float]:
    """Stored points as {(ts, dimensions json): value}."""
    return {
        (datetime.fromisoformat(item["ts"]), msgspec.json.encode(item["dimensions"]).decode()): (
            item["value"]
        )
        for item in items
    }


async def count_points(sessionmaker: async_sessionmaker[AsyncSession], kpi_id: str) -> int:
    """Rows stored for the KPI, counted in the database (for bodies too big to page through)."""
    async with sessionmaker() as session:
        total = await session.scalar(
            select(func.count()).select_from(Point).where(Point.kpi_id == uuid.UUID(kpi_id))
        )
    return int(total or 0)


FORMATS = ("json", "ndjson", "csv")


def encode(fmt: str, points: list[dict[str, Any]]) -> tuple[bytes, str]:
    """A request body holding ``points`` in one of the three formats, and its media type."""
    if fmt == "json":
        return msgspec.json.encode({"points": points}), "application/json"
    if fmt == "ndjson":
        return ndjson(points), NDJSON
    names = sorted({name for item in points for name in item.get("dimensions") or {}})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kpi", "ts", "value", *(f"dim.{name}" for name in names)])
    for item in points:
        dimensions = item.get("dimensions") or {}
        writer.writerow(
            [item["kpi"], item["ts"], repr(item["value"]), *(dimensions.get(n, "") for n in names)]
        )
    return buffer.getvalue().encode(), CSV


async def post_points(
    client: httpx.AsyncClient,
    tenant: Tenant,
    fmt: str,
    points: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body, content_type = encode(fmt, points)
    return await post_body(client, tenant, body, content_type, headers)
