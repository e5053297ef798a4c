"""Outbound webhooks and the live stream through real ``perfapi serve`` processes on a
fresh database, delivering to a real receiver on 127.0.0.1: signed retries, a server
killed mid-send, two servers sharing the work, and a stream fed by another process."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from perfapi.config import Settings
from perfapi.db.engine import create_engine, create_sessionmaker
from tests.cli.processes import Server, perfapi_env, start_server
from tests.events.test_stream import next_events
from tests.support import Tenant, created, fresh_database, make_tenant
from tests.webhook_endpoints.receiver import Received, Receiver, receiving

T = TypeVar("T")

PATIENCE = 30.0
"""Every wait here is bounded: a lost delivery or a silent stream fails, never hangs."""
POLL_SECONDS = 0.05

SENDING = {
    "PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "PERFAPI_WEBHOOK_DELIVERY_SECONDS": "0.2",
    "PERFAPI_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2",
    # A lease of 6 s: a delivery claimed by a process that died is sent again soon.
    "PERFAPI_WEBHOOK_TIMEOUT_SECONDS": "1",
}


# --- servers -------------------------------------------------------------------------


async def _drain(server: Server) -> None:
    """Keep reading the server's log, so a chatty server never blocks on a full pipe."""
    stream = server.process.stderr
    assert stream is not None
    while line := (await stream.readline()).decode():
        server.stderr.append(line)


async def _watched(env: dict[str, str]) -> tuple[Server, asyncio.Task[None]]:
    server = await start_server(env)
    assert server.ready, "".join(server.stderr)
    return server, asyncio.create_task(_drain(server))


async def _stopped(server: Server, drain: asyncio.Task[None]) -> int:
    drain.cancel()
    await asyncio.gather(drain, return_exceptions=True)
    return await server.stop()


async def _killed(server: Server, drain: asyncio.Task[None]) -> int:
    """SIGKILL: no shutdown, no last record of anything in flight."""
    drain.cancel()
    await asyncio.gather(drain, return_exceptions=True)
    server.process.kill()
    return await server.exited()


@asynccontextmanager
async def serving(env: dict[str, str], count: int = 1) -> AsyncIterator[list[Server]]:
    """``count`` servers on one database, started at once; stopped (SIGTERM) at the end."""
    started = await asyncio.gather(*(_watched(env) for _ in range(count)), return_exceptions=True)
    running = [item for item in started if not isinstance(item, BaseException)]
    try:
        for item in started:
            if isinstance(item, BaseException):
                raise item
        yield [server for server, _ in running]
    finally:
        codes = await asyncio.gather(*(_stopped(*item) for item in running))
        assert codes == [0] * len(running), [server.stderr for server, _ in running]


async def tenant_of(url: str, name: str) -> Tenant:
    """An org and an admin key, written straight into the served (migrated) database."""
    engine = create_engine(url, Settings(database_url=url))
    try:
        return await make_tenant(create_sessionmaker(engine), name)
    finally:
        await engine.dispose()


@asynccontextmanager
async def clients(servers: list[Server]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client of each server."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=PATIENCE)
            )
            for server in servers
        ]


@pytest.fixture(scope="module")
async def pair(database_server_url: str) -> AsyncIterator[tuple[str, list[Server]]]:
    """Two servers, both sending, on one fresh database; each test has its own org."""
    async with (
        fresh_database(database_server_url, "served") as url,
        serving(perfapi_env(PERFAPI_DATABASE_URL=url, **SENDING), count=2) as servers,
    ):
        yield url, servers


# --- waiting and reading ---------------------------------------------------------------


async def until(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll ``check`` until it gives something (at most PATIENCE): only for state no
    event announces, like an attempt, recorded after the receiver answered."""
    try:
        async with asyncio.timeout(PATIENCE):
            while True:
                if (found := await check()) is not None:
                    return found
                await asyncio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


async def items(http: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any) -> list[Any]:
    """Every item of a list, page after page."""
    found: list[Any] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await http.get(path, headers=tenant.headers, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return found


async def subscribe(http: httpx.AsyncClient, tenant: Tenant, url: str) -> dict[str, Any]:
    response = await http.post(
        "/v1/webhook-endpoints",
        headers=tenant.headers,
        json={"url": url, "events": ["kpi.created"], "description": "test receiver"},
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def kpi(http: httpx.AsyncClient, tenant: Tenant, key: str) -> str:
    return await created(http, tenant, "/v1/kpis", {"key": key, "name": key})


def attempts_path(endpoint: dict[str, Any]) -> str:
    return f"/v1/webhook-endpoints/{endpoint['id']}/attempts"


def assert_signed_event(received: Received, secret: str, event: dict[str, Any]) -> None:
    """Signed under the endpoint's secret as Standard Webhooks receivers check it, with
    the event's id as webhook-id, and the event as the log lists it for body."""
    assert received.path == "/hooks"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"] == event["id"]
    assert Webhook(secret).verify(received.body, received.headers) == event
    assert json.loads(received.body) == event


# --- tests -------------------------------------------------------------------------------


async def test_a_failing_receiver_gets_signed_retries_until_it_answers_200(
    pair: tuple[str, list[Server]],
) -> None:
    """Answered 500, 500, then 200: three sends of one event, each with its id as
    webhook-id, signed under the secret the endpoint was created with, the event as
    the log lists it for body; the attempts log tells the same story."""
    url, servers = pair
    tenant = await tenant_of(url, "retried")
    async with (
        receiving(Receiver(statuses=[500, 500])) as receiver,
        clients(servers) as (first, second),
    ):
        endpoint = await subscribe(first, tenant, receiver.url)
        made = await kpi(second, tenant, "sales.arr")
        received = await receiver.wait_for(3)

        (event,) = await items(first, tenant, "/v1/events")
        assert event["type"] == "kpi.created"
        assert event["data"]["kpi"]["id"] == made
        assert [r.headers["webhook-id"] for r in received] == [event["id"]] * 3
        for request in received:
            assert_signed_event(request, endpoint["secret"], event)

        async def settled() -> list[dict[str, Any]] | None:
            listed = await items(second, tenant, attempts_path(endpoint))
            return listed if any(a["status"] == "succeeded" for a in listed) else None

        attempts = await until(settled, "the successful attempt to be recorded")
    assert len(receiver.received) == 3
    newest_first = [(a["status"], a["response_status"], a["trigger"]) for a in attempts]
    assert newest_first == [
        ("succeeded", 200, "scheduled"),
        ("failed", 500, "scheduled"),
        ("failed", 500, "scheduled"),
    ]
    assert {a["event_id"] for a in attempts} == {event["id"]}
    assert {a["event_type"] for a in attempts} == {"kpi.created"}
    assert len({a["delivery_id"] for a in attempts}) == 1
    assert [a["error"] for a in attempts] == [None] + ["the receiver answered 500"] * 2
    assert {a["response_body"] for a in attempts} == {"ok"}


async def test_a_delivery_survives_servers_killed_before_and_during_the_send(
    database_server_url: str,
) -> None:
    """The first server commits the change with its sender off and is SIGKILLed: the
    event is in the log, not yet fanned out. The second sends it, the receiver holds
    the request unanswered, and that server is SIGKILLed mid-send, before it could
    record anything. A third sends it again, with the same webhook-id, once the
    second's lease ran out."""
    async with (
        fresh_database(database_server_url, "killed") as url,
        receiving(Receiver(statuses=[0])) as receiver,
    ):
        env = perfapi_env(PERFAPI_DATABASE_URL=url, **SENDING)
        committer, drain = await _watched({**env, "PERFAPI_WEBHOOK_DELIVERY_SECONDS": "0"})
        try:
            tenant = await tenant_of(url, "killed")  # once the server has migrated
            async with clients([committer]) as (http,):
                endpoint = await subscribe(http, tenant, receiver.url)
                await kpi(http, tenant, "sales.arr")
                (event,) = await items(http, tenant, "/v1/events")
        finally:
            assert await _killed(committer, drain) == -9
        assert not receiver.received

        sender, drain = await _watched(env)
        try:
            (held,) = await receiver.wait_for(1)
        finally:
            # At once: the attempt times out after 1 s, and would then be recorded.
            assert await _killed(sender, drain) == -9
        assert_signed_event(held, endpoint["secret"], event)

        async with serving(env) as (restarted,), clients([restarted]) as (http,):
            received = await receiver.wait_for(2)

            async def settled() -> list[dict[str, Any]] | None:
                return await items(http, tenant, attempts_path(endpoint)) or None

            attempts = await until(settled, "the attempt of the restarted server")
            assert await items(http, tenant, "/v1/events") == [event]
        assert len(receiver.received) == 2
    assert [r.headers["webhook-id"] for r in received] == [event["id"]] * 2
    assert_signed_event(received[1], endpoint["secret"], event)
    # What the killed server sent left no trace; the resend is the one attempt.
    assert [(a["status"], a["response_status"], a["event_id"]) for a in attempts] == [
        ("succeeded", 200, event["id"])
    ]


async def test_two_servers_deliver_each_event_once(pair: tuple[str, list[Server]]) -> None:
    """Both servers fan out and claim from one database, woken by every commit: each
    subscribed event reaches the receiver exactly once, with one attempt."""
    url, servers = pair
    tenant = await tenant_of(url, "shared")
    changes = 30
    async with receiving() as receiver, clients(servers) as https:
        endpoint = await subscribe(https[0], tenant, receiver.url)
        # Concurrent writes through both servers: each commit wakes both senders.
        await asyncio.gather(
            *(kpi(https[i % 2], tenant, f"k{i}") for i in range(changes)),
            # Not subscribed: never delivered.
            created(
                https[1],
                tenant,
                "/v1/objectives",
                {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
            ),
        )
        await receiver.wait_for(changes)
        events = await items(https[0], tenant, "/v1/events", type="kpi.created")
        assert len(events) == changes
        wanted = {event["id"] for event in events}

        async def settled() -> list[dict[str, Any]] | None:
            """Quiet: every event's delivery recorded as succeeded, so none is pending
            and nothing is left to send."""
            listed = await items(https[1], tenant, attempts_path(endpoint))
            done = {a["event_id"] for a in listed if a["status"] == "succeeded"}
            return listed if done >= wanted else None

        attempts = await until(settled, "every delivery to succeed")
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert sorted(ids) == sorted(wanted), "an event was sent twice, or one was lost"
    assert sorted(a["event_id"] for a in attempts) == sorted(wanted)
    assert {a["status"] for a in attempts} == {"succeeded"}
    by_id = {event["id"]: event for event in events}
    for request in receiver.received:
        assert_signed_event(request, endpoint["secret"], by_id[request.headers["webhook-id"]])


async def test_the_stream_sees_the_other_process_and_resumes_with_last_event_id(
    pair: tuple[str, list[Server]],
) -> None:
    """A stream on one server sends what commits through the other; a client that
    left and resumes with Last-Event-ID, on the other server, gets exactly what it
    missed, in commit order, then what commits live."""
    url, servers = pair
    tenant = await tenant_of(url, "streamed")
    async with clients(servers) as (first, second):
        async with first.stream("GET", "/v1/events/stream", headers=tenant.headers) as response:
            assert response.status_code == 200
            # The stream's start is fixed once its headers are here: this commits after.
            made = await kpi(second, tenant, "elsewhere")
            (live,) = await next_events(response.aiter_lines(), 1)
        (listed,) = await items(first, tenant, "/v1/events")
        assert (live["id"], live["event"]) == (listed["id"], "kpi.created")
        assert json.loads(live["data"]) == listed
        assert listed["data"]["kpi"]["id"] == made

        # Disconnected: changes commit through either server.
        keys = ["missed.one", "missed.two", "missed.three"]
        for http, key in zip((second, first, second), keys, strict=True):
            await kpi(http, tenant, key)
        missed = await items(first, tenant, "/v1/events", after=live["id"])
        assert [e["data"]["kpi"]["key"] for e in missed] == keys

        resumed = {**tenant.headers, "Last-Event-ID": live["id"]}
        async with second.stream("GET", "/v1/events/stream", headers=resumed) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            caught_up = await next_events(lines, len(missed))
            # Nothing else came between the missed events and the next live one.
            await kpi(first, tenant, "after")
            (next_live,) = await next_events(lines, 1)
        (after,) = await items(first, tenant, "/v1/events", after=missed[-1]["id"])
    assert [(e["id"], e["event"]) for e in caught_up] == [(e["id"], e["type"]) for e in missed]
    assert [json.loads(e["data"]) for e in caught_up] == missed
    assert json.loads(next_live["data"]) == after
    assert after["data"]["kpi"]["key"] == "after"
