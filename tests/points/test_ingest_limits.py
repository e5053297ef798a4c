"""Body size limits (413) and clients that go away mid-upload: nothing stored either way."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Message

from perfapi.app import create_app
from perfapi.config import Settings
from tests.points.helpers import (
    CSV,
    NDJSON,
    POINTS,
    assert_no_points,
    chunked,
    count_points,
    counts,
    create_kpi,
    list_points,
    ndjson_lines,
    point,
    post_body,
    post_json,
    result,
    ts,
)
from tests.support import Tenant, assert_problem

KPI = "sales.mrr"
JSON_LIMIT = 2000
INGEST_LIMIT = 50_000


@pytest.fixture
async def small(settings: Settings, empty_tables: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with small body limits for /v1/points."""
    limited = settings.model_copy(
        update={"max_points_json_bytes": JSON_LIMIT, "max_ingest_body_bytes": INGEST_LIMIT}
    )
    app: FastAPI = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
            yield http


async def test_bodies_within_the_limits_are_stored(
    small: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    response = await post_json(small, tenant, [point(KPI, minute, 1.0) for minute in range(20)])
    assert len(response.request.content) < JSON_LIMIT
    assert counts(response) == result(20, 20, 0, 0)
    lines = ndjson_lines(KPI, 500, value=2.0)  # ~25 KB: past the JSON limit, fine as NDJSON
    assert JSON_LIMIT < len(b"".join(lines)) < INGEST_LIMIT
    assert counts(await post_body(small, tenant, b"".join(lines), NDJSON)) == result(
        500, 480, 20, 0
    )
    assert len(await list_points(small, tenant, kpi_id)) == 500


async def test_json_body_over_its_limit_is_413(small: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    response = await post_json(small, tenant, [point(KPI, minute, 1.0) for minute in range(60)])
    assert JSON_LIMIT < len(response.request.content) < INGEST_LIMIT
    body = assert_problem(response, 413, "content-too-large")
    assert str(JSON_LIMIT) in body["detail"]
    await assert_no_points(small, tenant, kpi_id)


async def test_streamed_json_body_over_its_limit_is_413(
    small: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    items = b",".join(
        b'{"kpi":"%s","ts":"%s","value":1}' % (KPI.encode(), ts(m).encode()) for m in range(60)
    )
    body = chunked([b'{"points":[', items, b"]}"], size=500)
    response = await post_body(small, tenant, body, "application/json")
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    await assert_no_points(small, tenant, kpi_id)


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_ndjson_body_over_the_ingest_limit_is_413(
    small: httpx.AsyncClient, tenant: Tenant, streamed: bool
) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    lines = ndjson_lines(KPI, 1500)
    assert len(b"".join(lines)) > INGEST_LIMIT
    content = chunked(lines, size=4096) if streamed else b"".join(lines)
    response = await post_body(small, tenant, content, NDJSON)
    body = assert_problem(response, 413, "content-too-large")
    assert str(INGEST_LIMIT) in body["detail"]
    await assert_no_points(small, tenant, kpi_id)


async def test_streamed_csv_body_over_the_ingest_limit_is_413(
    small: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    rows = [b"kpi,ts,value\n"] + [f"{KPI},{ts(m)},1\n".encode() for m in range(2000)]
    assert len(b"".join(rows)) > INGEST_LIMIT
    response = await post_body(small, tenant, chunked(rows, size=4096), CSV)
    assert_problem(response, 413)
    await assert_no_points(small, tenant, kpi_id)


def http_scope(token: str, key: str | None = None) -> dict[str, object]:
    headers = [
        (b"host", b"perfapi.test"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", NDJSON.encode()),
        (b"transfer-encoding", b"chunked"),
    ]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": POINTS,
        "raw_path": POINTS.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("perfapi.test", 80),
    }


@pytest.mark.parametrize("key", [None, "upload-1"], ids=["no-key", "idempotency-key"])
@pytest.mark.parametrize(
    "first_chunk_points",
    [pytest.param(10, id="in-memory"), pytest.param(12_000, id="staged-past-one-batch")],
)
async def test_client_disconnect_midway_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    first_chunk_points: int,
    key: str | None,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    first = b"".join(ndjson_lines(KPI, first_chunk_points))
    second = b"".join(ndjson_lines(KPI, 100, start=first_chunk_points))
    messages: list[Message] = [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.request", "body": second, "more_body": True},
    ]
    received = 0

    async def receive() -> Message:
        nonlocal received
        received += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(tenant.token, key), receive, send)

    assert received >= 3  # the app read both chunks and then saw the disconnect
    assert not any(
        message["type"] == "http.response.start" and message["status"] == 200 for message in sent
    )
    await assert_no_points(client, tenant, kpi_id)
    assert await count_points(sessionmaker, kpi_id) == 0
    # The same upload, complete this time, goes through (under the same key, if any).
    complete = b"".join(ndjson_lines(KPI, first_chunk_points + 100))
    headers = {} if key is None else {"Idempotency-Key": key}
    retried = await post_body(client, tenant, complete, NDJSON, headers)
    assert counts(retried) == result(first_chunk_points + 100, first_chunk_points + 100, 0, 0)
    assert "idempotent-replayed" not in retried.headers


async def test_too_large_request_leaves_its_idempotency_key_unused(
    small: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(small, tenant, KPI)
    key = {"Idempotency-Key": "big-one"}
    too_big = await post_json(small, tenant, [point(KPI, m, 1.0) for m in range(60)], key)
    assert_problem(too_big, 413)
    await assert_no_points(small, tenant, kpi_id)
    smaller = await post_json(small, tenant, [point(KPI, m, 1.0) for m in range(10)], key)
    assert counts(smaller) == result(10, 10, 0, 0)
    assert "idempotent-replayed" not in smaller.headers
