"""The live stream, through a real uvicorn server: what commits, in order, to every process."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import event

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.events import tails
from perfapi.events.signals import EventSignals
from tests.support import Tenant, assert_problem, created

# Every wait on the stream is bounded: a broken stream fails the test, never hangs it.
PATIENCE = 10.0


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on 127.0.0.1 (its lifespan run elsewhere).

    The socket listens before the server starts: a client connecting at once waits in
    the backlog instead of being refused.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def served_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as url, httpx.AsyncClient(base_url=url, trust_env=False) as http:
        yield http


async def next_events(lines: AsyncIterator[str], count: int) -> list[dict[str, str]]:
    """The next ``count`` events of a text/event-stream (heartbeat comments skipped)."""

    async def read() -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        current: dict[str, str] = {}
        async for line in lines:
            if not line:
                if current:
                    found.append(current)
                    current = {}
                    if len(found) == count:
                        return found
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(read(), PATIENCE)


async def kpi(client: httpx.AsyncClient, tenant: Tenant, key: str) -> str:
    return await created(client, tenant, "/v1/kpis", {"key": key, "name": key})


def stream(http: httpx.AsyncClient, tenant: Tenant, **headers: str) -> Any:
    return http.stream(
        "GET", "/v1/events/stream", headers={**tenant.headers, **headers}, timeout=PATIENCE
    )


async def test_a_stream_sends_what_commits_after_it_opened(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await kpi(client, tenant, "before")
    async with served_client(app) as http, stream(http, tenant) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        made = await kpi(client, tenant, "after")
        (event,) = await next_events(response.aiter_lines(), 1)
    assert event["event"] == "kpi.created"
    body = json.loads(event["data"])
    assert body["id"] == event["id"]
    assert body["type"] == "kpi.created"
    assert body["data"]["kpi"]["id"] == made
    listed = (await client.get("/v1/events", headers=tenant.headers)).json()["items"]
    assert listed[-1]["id"] == event["id"]


async def test_resuming_after_last_event_id_misses_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for key in ("one", "two", "three"):
        await kpi(client, tenant, key)
    first = (await client.get("/v1/events", headers=tenant.headers)).json()["items"][0]["id"]
    resumed = {"Last-Event-ID": first}
    async with served_client(app) as http, stream(http, tenant, **resumed) as response:
        lines = response.aiter_lines()
        caught_up = await next_events(lines, 2)
        await kpi(client, tenant, "four")
        (live,) = await next_events(lines, 1)
    keys = [json.loads(e["data"])["data"]["kpi"]["key"] for e in [*caught_up, live]]
    assert keys == ["two", "three", "four"]


async def test_a_type_filter_and_another_org_see_only_their_own(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with served_client(app) as http:
        objectives_only = http.stream(
            "GET",
            "/v1/events/stream?type=objective.created",
            headers=tenant.headers,
            timeout=PATIENCE,
        )
        async with objectives_only as mine, stream(http, other_tenant) as theirs:
            await kpi(client, tenant, "mine")
            await created(
                client,
                tenant,
                "/v1/objectives",
                {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-03-31"},
            )
            await kpi(client, other_tenant, "theirs")
            (objective,) = await next_events(mine.aiter_lines(), 1)
            (other,) = await next_events(theirs.aiter_lines(), 1)
    assert objective["event"] == "objective.created"
    assert json.loads(other["data"])["data"]["kpi"]["key"] == "theirs"


async def test_a_client_that_leaves_costs_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    signals: EventSignals = app.state.event_signals
    async with served_client(app) as http:
        async with stream(http, tenant) as response:
            await kpi(client, tenant, "seen")
            await next_events(response.aiter_lines(), 1)
            assert signals.subscribers(tenant.id) == 2  # the stream and its org's tail
        await asyncio.wait_for(signals.until_no_subscribers(tenant.id), PATIENCE)


async def test_a_change_committed_by_another_process_reaches_the_stream(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    """A second app with its own engine and listener, as a second server process has:
    the change commits through the first, the notification comes through PostgreSQL.
    Its heartbeats are frequent, so one shows before the change."""
    other = create_app(settings.model_copy(update={"event_stream_heartbeat_seconds": 0.2}))
    async with (
        other.router.lifespan_context(other),
        served_client(other) as http,
        stream(http, tenant) as response,
    ):
        lines = response.aiter_lines()

        async def heartbeat() -> str:
            async for line in lines:
                if line.startswith(":"):
                    return line
            raise AssertionError("the stream ended")

        assert (await asyncio.wait_for(heartbeat(), PATIENCE)).startswith(":")
        made = await kpi(client, tenant, "elsewhere")
        (event,) = await next_events(lines, 1)
    assert json.loads(event["data"])["data"]["kpi"]["id"] == made


async def test_a_malformed_last_event_id_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for sent in ("42", "evt_", "evt_4x", "evt_" + "9" * 30):
        response = await client.get(
            "/v1/events/stream", headers={**tenant.headers, "Last-Event-ID": sent}
        )
        assert_problem(response, 422)
    response = await client.get("/v1/events/stream?type=kpi.exploded", headers=tenant.headers)
    assert_problem(response, 422)


@contextlib.contextmanager
def log_reads(app: FastAPI) -> Iterator[list[str]]:
    """Every statement that reads the event log while in the block, as the app runs it."""
    reads: list[str] = []

    def noted(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM events" in statement:
            reads.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", noted)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", noted)


async def test_many_streams_of_one_org_read_the_log_once_per_commit(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with served_client(app) as http, contextlib.AsyncExitStack() as streams:
        opened = [await streams.enter_async_context(stream(http, tenant)) for _ in range(10)]
        lines = [response.aiter_lines() for response in opened]
        await kpi(client, tenant, "warm-up")
        for each in lines:
            await next_events(each, 1)
        with log_reads(app) as reads:
            await kpi(client, tenant, "counted")
            received = [await next_events(each, 1) for each in lines]
    assert all(json.loads(e["data"])["data"]["kpi"]["key"] == "counted" for (e,) in received)
    assert len(reads) == 1, reads


async def test_streams_behind_what_the_tail_keeps_read_the_log_and_miss_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tails, "KEPT", 2)
    await kpi(client, tenant, "zero")
    first = (await client.get("/v1/events", headers=tenant.headers)).json()["items"][0]["id"]
    async with served_client(app) as http, stream(http, tenant) as live:
        live_lines = live.aiter_lines()
        for key in ("one", "two", "three", "four", "five"):
            await kpi(client, tenant, key)
        burst = await next_events(live_lines, 5)
        # Resumed from before everything the tail keeps: from the log, then the tail.
        async with stream(http, tenant, **{"Last-Event-ID": first}) as resumed:
            resumed_lines = resumed.aiter_lines()
            caught_up = await next_events(resumed_lines, 5)
            await kpi(client, tenant, "six")
            (after,) = await next_events(resumed_lines, 1)
            (also,) = await next_events(live_lines, 1)
    keys = [json.loads(e["data"])["data"]["kpi"]["key"] for e in [*burst, also]]
    assert keys == ["one", "two", "three", "four", "five", "six"]
    keys = [json.loads(e["data"])["data"]["kpi"]["key"] for e in [*caught_up, after]]
    assert keys == ["one", "two", "three", "four", "five", "six"]
