"""Health, readiness, metrics, request ids, logs, docs and CORS."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.db.session import DbSession
from perfapi.ops.context import request_id_var
from perfapi.ops.logs import JsonFormatter
from tests.support import Tenant, assert_problem, running


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_with_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200


async def test_readyz_when_database_refuses_connections(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/perfapi"}
    )
    async with running(down) as http:
        response = await http.get("/readyz")
        body = assert_problem(response, 503, "service-unavailable")
        assert response.headers["retry-after"] == "5"
        assert "not reachable" in body["detail"]
        assert (await http.get("/healthz")).status_code == 200


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers: a hung database."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_readyz_answers_503_within_its_timeout_when_database_hangs(
    settings: Settings,
) -> None:
    async with silent_server() as port:
        hung = settings.model_copy(
            update={
                "database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/perfapi",
                "readiness_timeout_seconds": 0.2,
            }
        )
        async with running(hung) as http:
            started = asyncio.get_running_loop().time()
            response = await http.get("/readyz")
            elapsed = asyncio.get_running_loop().time() - started
    assert_problem(response, 503)
    assert elapsed < 5  # bounded by the timeout, not by asyncpg's 60 s connect timeout


async def test_authenticated_request_when_database_is_down_is_503(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/perfapi"}
    )
    async with running(down) as http:
        response = await http.get(
            "/v1/api-keys", headers={"Authorization": "Bearer pfk_000000000000_" + "a" * 32}
        )
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"
    assert "Traceback" not in body["detail"]


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    hostile = await client.get("/healthz", headers={"X-Request-Id": "a b\tc" + "x" * 200})
    assert hostile.headers["x-request-id"] != "a b\tc" + "x" * 200
    problem = await client.get("/nowhere", headers={"X-Request-Id": "trace-7"})
    assert assert_problem(problem, 404)["request_id"] == "trace-7"


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await client.get("/v1/api-keys/00000000-0000-0000-0000-000000000000", headers=tenant.headers)
    await client.get("/no/such/path/123")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'perfapi_http_requests_total{method="GET",route="/v1/api-keys/{key_id}",status="404"}'
        in text
    )
    assert 'route="unmatched"' in text
    assert "00000000-0000-0000-0000-000000000000" not in text
    latency = (
        'perfapi_http_request_duration_seconds_count{method="GET",route="/v1/api-keys/{key_id}"}'
    )
    assert latency in text


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord(
        "perfapi.test", logging.INFO, __file__, 1, "hello %s", ("you",), None
    )
    record.status = 201
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello you"
    assert entry["request_id"] == "req-42"
    assert entry["status"] == 201
    assert entry["level"] == "info"


async def test_unhandled_errors_are_logged_with_the_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
        with caplog.at_level(logging.ERROR, logger="perfapi.errors"):
            response = await http.get("/explode", headers={"X-Request-Id": "boom-1"})
    body = assert_problem(response, 500, "internal-error")
    assert "secret internals" not in response.text
    assert "boom-1" in body["detail"]
    logged = [r for r in caplog.records if r.name == "perfapi.errors"]
    assert logged
    assert logged[0].exc_info is not None
    assert JsonFormatter().format(logged[0]).count("secret internals") >= 1


async def test_a_read_the_database_cancelled_is_503_to_retry(settings: Settings) -> None:
    """SQLSTATE 40001, as a hot-standby replica raises when replaying the primary's
    changes conflicts with a read: the same request may well succeed, so 503."""
    app = create_app(settings)

    @app.get("/cancelled")
    async def cancelled(session: DbSession) -> None:
        await session.execute(
            text(
                "DO $$ BEGIN RAISE EXCEPTION 'canceling statement due to conflict with "
                "recovery' USING ERRCODE = 'serialization_failure'; END $$"
            )
        )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfapi.test") as http:
            response = await http.get("/cancelled")
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "1"
    assert "retry" in body["detail"]


async def test_docs_work_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    asset = await client.get("/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


async def test_cors_from_settings(settings: Settings) -> None:
    with_cors = settings.model_copy(update={"cors_origins": ["https://ui.example"]})
    async with running(with_cors) as http:
        preflight = await http.options(
            "/v1/api-keys",
            headers={
                "Origin": "https://ui.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ui.example"
        simple = await http.get("/healthz", headers={"Origin": "https://ui.example"})
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        stranger = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFAPI_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
