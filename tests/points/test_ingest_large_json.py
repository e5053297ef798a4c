"""Large JSON bodies: split into raw points and decoded a batch at a time, admitted a few
at a time; the same answers as a body decoded whole."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.points import fast
from perfapi.points.admission import Admission, Ticket
from tests.points.helpers import (
    assert_no_points,
    chunked,
    count_points,
    counts,
    create_kpi,
    list_points,
    post_body,
    result,
    ts,
)
from tests.support import Tenant, assert_problem, error_locs

KPI = "sales.mrr"
TOTAL = 30_000  # three batches of 10,000
LARGE_ABOVE = 100_000  # bytes; a body of TOTAL points is about 1.8 MB
JSON = "application/json"


def item(minute: int, value: object = 1.0, kpi: str = KPI) -> bytes:
    return b'{"kpi":"%s","ts":"%s","value":%s}' % (
        kpi.encode(),
        ts(minute).encode(),
        value_of(value),
    )


def value_of(value: object) -> bytes:
    return value if isinstance(value, bytes) else repr(value).encode()


def items(count: int = TOTAL, value: object = 1.0) -> list[bytes]:
    return [item(minute, value) for minute in range(count)]


def body_of(points: list[bytes], tail: bytes = b"") -> bytes:
    return b'{"points":[' + b",".join(points) + b"]" + tail + b"}"


class Held:
    """A streamed body (no Content-Length) that stops halfway until told to go on."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.started = False
        self.paused = asyncio.Event()
        self.go = asyncio.Event()

    async def stream(self) -> AsyncIterator[bytes]:
        self.started = True
        half = len(self.content) // 2
        yield self.content[:half]
        self.paused.set()
        await self.go.wait()
        yield self.content[half:]


async def yield_until(condition: Callable[[], bool], turns: int = 1000) -> None:
    """Let the other tasks run until the condition holds (no I/O is needed to get there)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition did not come true")


@asynccontextmanager
async def posting(
    client: httpx.AsyncClient, tenant: Tenant, content: bytes | AsyncIterator[bytes]
) -> AsyncIterator[asyncio.Task[httpx.Response]]:
    task = asyncio.create_task(post_body(client, tenant, content, JSON))
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()


@asynccontextmanager
async def app_with(settings: Settings, **changes: int) -> AsyncIterator[FastAPI]:
    app: FastAPI = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://perfapi.test")


@pytest.fixture
async def large_app(settings: Settings, empty_tables: None) -> AsyncIterator[FastAPI]:
    """The app with a low bar for large bodies and one slot."""
    async with app_with(
        settings, large_points_json_bytes=LARGE_ABOVE, large_points_json_slots=1
    ) as app:
        yield app


@pytest.fixture
async def large(large_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(large_app) as http:
        yield http


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the bodies split into raw points, in order."""
    seen: list[int] = []
    split = fast.split_body

    def spy(body: bytes | bytearray) -> Any:
        seen.append(len(body))
        return split(body)

    monkeypatch.setattr(fast, "split_body", spy)
    return seen


async def test_large_body_is_stored_in_parts(
    large: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    splits: list[int],
) -> None:
    kpi_id = await create_kpi(large, tenant, KPI)
    body = body_of(items())
    response = await post_body(large, tenant, body, JSON)
    assert counts(response) == result(TOTAL, TOTAL, 0, 0)
    assert splits == [len(body)]
    assert await count_points(sessionmaker, kpi_id) == TOTAL
    # Again with 100 changed values spread over the batches, and 10 new points.
    again = [item(minute, 5.0 if minute % 300 == 0 else 1.0) for minute in range(TOTAL + 10)]
    assert counts(await post_body(large, tenant, body_of(again), JSON)) == result(
        TOTAL + 10, 10, 100, TOTAL - 100
    )
    assert await count_points(sessionmaker, kpi_id) == TOTAL + 10


async def test_small_body_is_decoded_whole(
    large: httpx.AsyncClient, tenant: Tenant, splits: list[int]
) -> None:
    await create_kpi(large, tenant, KPI)
    body = body_of(items(100))
    assert len(body) < LARGE_ABOVE
    assert counts(await post_body(large, tenant, body, JSON)) == result(100, 100, 0, 0)
    assert splits == []


async def test_bad_point_late_in_a_large_body_stores_nothing(
    large: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    splits: list[int],
) -> None:
    kpi_id = await create_kpi(large, tenant, KPI)
    assert counts(await post_body(large, tenant, body_of(items(5)), JSON)) == result(5, 5, 0, 0)
    points = items(value=2.0)  # updates the first five, then new points
    points[29_998] = item(29_998, b'"high"')
    response = await post_body(large, tenant, body_of(points), JSON)
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "points", 29_998, "value"]]
    assert splits  # it went the large way
    assert await count_points(sessionmaker, kpi_id) == 5
    stored = await list_points(large, tenant, kpi_id)
    assert [point["value"] for point in stored] == [1.0] * 5


async def test_duplicate_across_batches_names_both_indexes(
    large: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(large, tenant, KPI)
    points = items()
    points[25_000] = item(4, 2.0)  # the point at index 4, with another value
    body = assert_problem(await post_body(large, tenant, body_of(points), JSON), 422)
    assert error_locs(body) == [["body", "points", 25_000]]
    assert body["errors"][0]["type"] == "duplicate_point"
    assert "as 4 " in body["errors"][0]["message"]
    await assert_no_points(large, tenant, kpi_id)


def bodies_with_problems() -> Iterator[Any]:
    spread = items()
    spread[3] = item(3, kpi="sales.nope")
    spread[12_000] = b'{"kpi":"%s","ts":"2026-01-01T00:00:00","value":1}' % KPI.encode()
    spread[25_000] = item(25_000, b"true")
    spread[29_999] = b'{"kpi":"%s","ts":"%s","value":1,"unit":"EUR"}' % (
        KPI.encode(),
        ts(29_999).encode(),
    )
    yield pytest.param(body_of(spread), id="bad-points-in-every-batch")
    many = items()
    for index in range(0, TOTAL, 200):  # 150 unknown KPIs: the first 100 listed
        many[index] = item(index, kpi="sales.nope")
    yield pytest.param(body_of(many), id="150-bad-points")
    yield pytest.param(body_of(items(), b',"source":"crm"'), id="extra-member")
    infinite = items()
    infinite[20_000] = item(20_000, b"-1e999")
    yield pytest.param(body_of(infinite), id="value-1e999")
    nan = items()
    nan[15_000] = item(15_000, b"NaN")
    yield pytest.param(body_of(nan), id="value-nan-literal")
    not_object = items()
    not_object[10_000] = b"[1, 2]"
    yield pytest.param(body_of(not_object), id="point-not-an-object")
    surrogate = items()
    surrogate[11_000] = b'{"kpi":"%s","ts":"%s","value":1,"dimensions":{"team":"\\ud800"}}' % (
        KPI.encode(),
        ts(11_000).encode(),
    )
    yield pytest.param(body_of(surrogate), id="unpaired-surrogate")
    yield pytest.param(b'{"points":{"kpi":"x"},"pad":"' + b"x" * LARGE_ABOVE + b'"}', id="no-list")
    yield pytest.param(body_of(items()) + b" x", id="trailing-garbage")
    not_utf8 = items()
    not_utf8[14_000] = b'{"kpi":"sales.\xe9","ts":"%s","value":1}' % ts(14_000).encode()
    yield pytest.param(body_of(not_utf8), id="not-utf-8")


def comparable(response: httpx.Response) -> dict[str, Any]:
    document: dict[str, Any] = response.json()
    document.pop("request_id", None)
    if document.get("type") == "urn:perfapi:problem:malformed-json":
        document.pop("detail")  # names the position within the body or within the point
    return document


@pytest.mark.parametrize("content", list(bodies_with_problems()))
async def test_large_body_gets_the_answer_of_a_body_decoded_whole(
    client: httpx.AsyncClient,
    large: httpx.AsyncClient,
    settings: Settings,
    tenant: Tenant,
    content: bytes,
) -> None:
    """The default app decodes these bodies (under its bar of a few MiB) whole, as before."""
    kpi_id = await create_kpi(client, tenant, KPI)
    assert LARGE_ABOVE < len(content) <= settings.large_points_json_bytes
    whole = await post_body(client, tenant, content, JSON)
    in_parts = await post_body(large, tenant, content, JSON)
    assert whole.status_code in (400, 422), whole.text
    assert comparable(in_parts) == comparable(whole)
    await assert_no_points(client, tenant, kpi_id)


async def test_large_body_is_replayed_by_its_idempotency_key(
    large: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kpi_id = await create_kpi(large, tenant, KPI)
    body = body_of(items())
    key = {"Idempotency-Key": "large-1"}
    first = await post_body(large, tenant, body, JSON, key)
    assert counts(first) == result(TOTAL, TOTAL, 0, 0)
    streamed = await post_body(large, tenant, chunked([body], size=50_000), JSON, key)
    assert streamed.headers["idempotent-replayed"] == "true"
    assert streamed.json() == first.json()
    other = body_of(items(value=3.0))
    assert_problem(await post_body(large, tenant, other, JSON, key), 422, "idempotency-key-reused")
    assert await count_points(sessionmaker, kpi_id) == TOTAL
    assert {point["value"] for point in await list_points(large, tenant, kpi_id)} == {1.0}


async def test_large_body_waits_unread_for_the_slot(
    large_app: FastAPI, large: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_kpi(large, tenant, KPI)
    admission: Admission = large_app.state.points_admission
    first = Held(body_of(items()))
    second = Held(body_of([item(minute) for minute in range(TOTAL, 2 * TOTAL)]))
    async with posting(large, tenant, first.stream()) as first_task:
        await first.paused.wait()  # admitted, halfway through its body
        assert admission.admitted == 1
        async with posting(large, tenant, second.stream()) as second_task:
            await yield_until(lambda: admission.waiting == 1)
            assert not second.started  # waiting with its body unread
            # Small bodies (by declared length) and streamed formats do not wait.
            small = await post_body(large, tenant, body_of(items(10, value=7.0)), JSON)
            assert counts(small) == result(10, 10, 0, 0)
            ndjson = await post_body(large, tenant, item(2 * TOTAL), "application/x-ndjson")
            assert counts(ndjson) == result(1, 1, 0, 0)
            assert not second.started
            first.go.set()
            assert counts(await first_task) == result(TOTAL, TOTAL - 10, 10, 0)
            second.go.set()
            assert counts(await second_task) == result(TOTAL, TOTAL, 0, 0)
    assert (admission.waiting, admission.admitted) == (0, 0)


async def test_declared_too_large_json_is_413_without_waiting(
    settings: Settings, empty_tables: None, tenant: Tenant
) -> None:
    limit = 2 * LARGE_ABOVE
    async with (
        app_with(
            settings,
            large_points_json_bytes=LARGE_ABOVE,
            large_points_json_slots=1,
            max_points_json_bytes=limit,
        ) as app,
        client_of(app) as http,
    ):
        await create_kpi(http, tenant, KPI)
        holder = Held(body_of(items(1_000)))  # small, but sent without Content-Length
        async with posting(http, tenant, holder.stream()) as holder_task:
            await holder.paused.wait()  # holds the only slot
            too_large = await post_body(http, tenant, b" " * (limit + 1), JSON)
            assert str(limit) in assert_problem(too_large, 413, "content-too-large")["detail"]
            holder.go.set()
            assert counts(await holder_task) == result(1_000, 1_000, 0, 0)


async def test_body_that_cannot_be_split_waits_for_every_slot(
    settings: Settings, empty_tables: None, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed whole (NaN is no JSON for msgspec), a large body costs far more: it runs alone."""
    alone = Ticket.alone
    entered = asyncio.Event()

    def spy(ticket: Ticket) -> AbstractAsyncContextManager[None]:
        entered.set()
        return alone(ticket)

    monkeypatch.setattr(Ticket, "alone", spy)
    nan = items()
    nan[20_000] = item(20_000, b"NaN")
    async with (
        app_with(settings, large_points_json_bytes=LARGE_ABOVE, large_points_json_slots=2) as app,
        client_of(app) as http,
    ):
        admission: Admission = app.state.points_admission
        kpi_id = await create_kpi(http, tenant, KPI)
        holder = Held(body_of(items(5_000)))
        async with posting(http, tenant, holder.stream()) as holder_task:
            await holder.paused.wait()  # holds one of the two slots
            async with posting(http, tenant, body_of(nan)) as nan_task:
                await entered.wait()
                # Admitted to the other slot, it gave it up to wait for both.
                await yield_until(lambda: admission.waiting == 1)
                assert admission.admitted == 2
                assert not nan_task.done()
                holder.go.set()
                assert counts(await holder_task) == result(5_000, 5_000, 0, 0)
                body = assert_problem(await nan_task, 422)
                assert error_locs(body) == [["body", "points", 20_000, "value"]]
        assert len(await list_points(http, tenant, kpi_id)) == 5_000
        assert (admission.waiting, admission.admitted) == (0, 0)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [pytest.param(JSON, 400, id="json"), pytest.param("application/x-ndjson", 422, id="ndjson")],
)
async def test_bytes_that_are_not_utf8_are_refused_never_500(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str, status: int
) -> None:
    """msgspec raises UnicodeDecodeError for them; the slow path names the problem."""
    kpi_id = await create_kpi(client, tenant, KPI)
    bad = b'{"kpi":"sales.\xe9","ts":"%s","value":1}' % ts(1).encode()
    content = body_of([item(0), bad]) if content_type == JSON else item(0) + b"\n" + bad
    response = await post_body(client, tenant, content, content_type)
    body = assert_problem(response, status)
    if content_type != JSON:
        assert error_locs(body) == [["body", "line", 2]]
    await assert_no_points(client, tenant, kpi_id)
