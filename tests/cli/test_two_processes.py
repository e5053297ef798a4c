"""Two ``perfapi serve`` processes on one database, every background loop on at short
intervals: no work done twice, none lost, and a stopped server drains what it holds.

Each server is one process with its own loops, as each worker of ``--workers N`` is
(``test_serve.py`` shows the workers share a port); two servers on two ports are also two
replicas, and let each process's metrics be read on their own. Writes go through both
at once, from two orgs; then, once nothing is left to do:
- every event of the org reached a webhook receiver on 127.0.0.1 exactly once, with one
  attempt each, and the senders of both processes together counted one attempt an event;
- every rollup change was refreshed exactly once (the refreshers of both processes
  together counted one refresh a change, and the change log is empty), and the day and
  month rollups equal what the raw points give;
- each derived event was announced once (a KPI's status changes form one chain, each
  starting where the last ended), and the last announced progress is the progress the
  API computes now;
- a live stream on one process sent every event of the log in order, those committed
  through the other process and by either one's background loops included.
No sleeping: a wait reads a server's output, a stream or a receiver as it comes, or asks
the database or the servers again until the condition holds (each ask a round trip).
"""

import asyncio
import json
import signal
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from perfapi.vault.keys import encode_key, new_key
from tests.cli.processes import Server, perfapi_env, start_server
from tests.support import Tenant, created, fresh_database
from tests.webhook_endpoints.receiver import Received, receiving
from tests.webhook_endpoints.test_served import items, tenant_of

PATIENCE = 30.0
"""Every wait is bounded: lost work fails the test, never hangs it."""

BACKGROUND = {
    "PERFAPI_ROLLUP_REFRESH_SECONDS": "0.2",
    "PERFAPI_DERIVED_EVENTS_SECONDS": "0.2",
    "PERFAPI_WEBHOOK_DELIVERY_SECONDS": "0.2",
    "PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
}
DRAINING = "Waiting for connections to close"

KPIS = 6
POINT_REQUESTS = 40  # through both servers, alternately
POINTS_PER_KPI = 25  # of a request, half an hour apart on one day
OTHER_ORG_REQUESTS = 10
CHECK_INS = 12
# The rollup change log gets an entry per KPI of each points request, whichever path the
# request takes (copied, or merged over existing points).
CHANGES = 2 * POINT_REQUESTS + OTHER_ORG_REQUESTS

REFRESHED = "perfapi_rollup_changes_refreshed"
SENT = "perfapi_webhook_attempts"


# --- servers ---------------------------------------------------------------------------


class Watched:
    """A running server whose log is read as it comes: a chatty server never blocks on a
    full pipe, and a test can wait for a line."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._logged = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self._terminated = False

    async def _read(self) -> None:
        stream = self.server.process.stderr
        assert stream is not None
        while line := (await stream.readline()).decode():
            async with self._logged:
                self.server.stderr.append(line)
                self._logged.notify_all()

    @property
    def log(self) -> str:
        return "".join(self.server.stderr)

    async def logged(self, line: str) -> None:
        """Until the server logs ``line`` (at most PATIENCE)."""
        async with asyncio.timeout(PATIENCE), self._logged:
            await self._logged.wait_for(lambda: line in self.log or self._reader.done())
        assert line in self.log, self.log

    def terminate(self) -> None:
        """SIGTERM, without waiting: the server is known to be running (it holds a request)."""
        assert self.server.process.returncode is None
        self.server.process.send_signal(signal.SIGTERM)
        self._terminated = True

    async def stop(self) -> int:
        """SIGTERM (unless sent already), then the exit code once the process ended."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        if self._terminated:
            return await self.server.exited()
        return await self.server.stop()


async def watched(env: dict[str, str]) -> Watched:
    server = await start_server(env)
    assert server.ready, "".join(server.stderr)
    return Watched(server)


@asynccontextmanager
async def serving(env: dict[str, str], count: int) -> AsyncIterator[list[Watched]]:
    """``count`` servers on one database, started at once; stopped (SIGTERM) at the end."""
    started = await asyncio.gather(*(watched(env) for _ in range(count)), return_exceptions=True)
    running = [item for item in started if isinstance(item, Watched)]
    try:
        for item in started:
            if isinstance(item, BaseException):
                raise item
        yield running
    finally:
        codes = [await server.stop() for server in running]
        assert codes == [0] * len(running), [server.log for server in running]


@pytest.fixture(scope="module")
async def pair(
    database_server_url: str,
) -> AsyncIterator[tuple[str, dict[str, str], list[Watched]]]:
    """Two servers with every background loop on, on one fresh database; each test has its
    own orgs. The servers share a secret key, as replicas must (the webhook secrets)."""
    async with fresh_database(database_server_url, "twoprocs") as url:
        env = perfapi_env(
            PERFAPI_DATABASE_URL=url, PERFAPI_SECRET_KEY=encode_key(new_key()), **BACKGROUND
        )
        async with serving(env, count=2) as servers:
            yield url, env, servers


@asynccontextmanager
async def database(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def clients(servers: list[Watched]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=servers[0].server.base_url, timeout=PATIENCE) as first,
        httpx.AsyncClient(base_url=servers[1].server.base_url, timeout=PATIENCE) as second,
    ):
        yield [first, second]


# --- waiting -----------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Ask ``check`` again until it holds, at most PATIENCE. No pause between asks: each is
    a round trip to the database or the servers, which paces the loop."""
    try:
        async with asyncio.timeout(PATIENCE):
            while not await check():
                pass
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


QUIET = text(
    "SELECT (SELECT count(*) FROM rollup_changes) = 0"
    # Each org evaluated for derived events at its latest data version (recording
    # events moves the version: the round after evaluates again and finds nothing new).
    " AND NOT EXISTS (SELECT FROM org_data_versions v"
    "  LEFT JOIN derived_event_marks m ON m.org_id = v.org_id"
    "  WHERE m.evaluated_version IS NULL OR m.evaluated_version < v.version)"
    # Every event of the org fanned out to its endpoint, and every delivery done.
    " AND NOT EXISTS (SELECT FROM events e WHERE e.org_id = :org_id AND e.position >"
    "  (SELECT COALESCE(max(f.position), 0) FROM webhook_fanout_marks f"
    "   WHERE f.org_id = :org_id))"
    " AND NOT EXISTS (SELECT FROM webhook_endpoint_deliveries WHERE org_id = :org_id"
    "  AND status <> 'succeeded')"
)


async def quiet(engine: AsyncEngine, tenant: Tenant) -> bool:
    """In one snapshot: no rollup change, derived evaluation or delivery left to do."""
    async with engine.connect() as connection:
        return bool(await connection.scalar(QUIET, {"org_id": tenant.id}))


async def counted(https: list[httpx.AsyncClient], metric: str) -> float:
    """A counter's samples summed over both processes (each server is one process)."""
    total = 0.0
    for http in https:
        response = await http.get("/metrics")
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            total += sum(s.value for s in family.samples if s.name == f"{metric}_total")
    return total


# --- what the test writes -------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    tenant: Tenant
    stranger: Tenant  # another org
    kpis: list[str]  # keys
    objective: str
    manual_key_results: list[str]  # checked in by hand


async def build_strategy(http: httpx.AsyncClient, tenant: Tenant, stranger: Tenant) -> Strategy:
    """KPIs with a target over the days around today, an objective with key results reading
    two of them and two checked in by hand; and a KPI of another org."""
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=30)).isoformat(), (today + timedelta(days=30)).isoformat()
    kpis = [f"kpi.{k}" for k in range(KPIS)]
    kpi_ids = [await created(http, tenant, "/v1/kpis", {"key": key, "name": key}) for key in kpis]
    for kpi_id in kpi_ids:
        target = {"period_start": start, "period_end": end, "value": 5_000}
        await post(http, tenant, f"/v1/kpis/{kpi_id}/targets", target)
    objective = await created(
        http, tenant, "/v1/objectives", {"title": "Grow", "start_date": start, "due_date": end}
    )
    key_results = f"/v1/objectives/{objective}/key-results"
    for kpi_id in kpi_ids[:2]:
        body = {"title": "Sell", "kpi_id": kpi_id, "direction": "increase", "start_value": 0}
        await created(http, tenant, key_results, body | {"target_value": 3_000})
    manual = [
        await created(
            http,
            tenant,
            key_results,
            {"title": "Ship", "direction": "at_least", "target_value": 10},
        )
        for _ in range(2)
    ]
    await created(http, stranger, "/v1/kpis", {"key": "theirs", "name": "theirs"})
    return Strategy(tenant, stranger, kpis, objective, manual)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def points_body(request: int, kpis: list[str], day: date) -> dict[str, Any]:
    """POINTS_PER_KPI points per KPI on ``day``, valued after the request: two requests on
    the same KPIs and day write the same points (the later merges over the earlier)."""
    return {
        "points": [
            {
                "kpi": kpi,
                "ts": (midnight(day) + timedelta(minutes=30 * j)).isoformat(),
                "value": float(request),
                "dimensions": {"region": ("emea", "amer")[j % 2]},
            }
            for kpi in kpis
            for j in range(POINTS_PER_KPI)
        ]
    }


def write_through_both(
    https: list[httpx.AsyncClient], strategy: Strategy
) -> list[Awaitable[dict[str, Any]]]:
    """Writes alternating between the servers, to be sent at once: points of ours (request
    n writes two KPIs on one day, the same points as request n + 15, so some merge over
    others), points of another org, and check-ins."""
    today = datetime.now(UTC).date()
    tenant, stranger = strategy.tenant, strategy.stranger
    writes: list[Awaitable[dict[str, Any]]] = []
    for n in range(POINT_REQUESTS):
        kpis = strategy.kpis[2 * (n % 3) : 2 * (n % 3) + 2]
        body = points_body(n, kpis, today - timedelta(days=1 + n % 5))
        writes.append(post(https[n % 2], tenant, "/v1/points", body))
    for n in range(OTHER_ORG_REQUESTS):
        body = points_body(n, ["theirs"], today - timedelta(days=1 + n % 3))
        writes.append(post(https[n % 2], stranger, "/v1/points", body))
    for n in range(CHECK_INS):
        at = datetime.now(UTC) - timedelta(minutes=CHECK_INS - n)
        path = f"/v1/key-results/{strategy.manual_key_results[n % 2]}/check-ins"
        writes.append(post(https[n % 2], tenant, path, {"value": n, "at": at.isoformat()}))
    return writes


async def post(http: httpx.AsyncClient, tenant: Tenant, path: str, body: Any) -> dict[str, Any]:
    response = await http.post(path, headers=tenant.headers, json=body)
    assert response.is_success, response.text
    reply: dict[str, Any] = response.json()
    return reply


class Stream:
    """The org's live stream on one server, read as it comes."""

    def __init__(self, response: httpx.Response) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        data: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data.append(line.removeprefix("data:").strip())
            elif not line and data:
                async with self._arrived:
                    self.events.append(json.loads("\n".join(data)))
                    self._arrived.notify_all()
                data = []

    async def until_seen(self, event_id: str) -> list[dict[str, Any]]:
        async with asyncio.timeout(PATIENCE), self._arrived:
            await self._arrived.wait_for(lambda: any(e["id"] == event_id for e in self.events))
        return list(self.events)

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


# --- checks ---------------------------------------------------------------------------------


ROLLUPS_MISMATCHED = text(
    "WITH raw AS (SELECT org_id, kpi_id, {bucket} AS bucket, dims_hash, count(*) AS count,"
    " sum(value) AS sum, min(value) AS min, max(value) AS max, max(ts) AS last_ts"
    " FROM points GROUP BY 1, 2, 3, 4),"
    " rolled AS (SELECT org_id, kpi_id, {column} AS bucket, dims_hash, count, sum, min, max,"
    " last_ts FROM {table})"
    " SELECT (SELECT count(*) FROM raw),"
    " count(*) FILTER (WHERE raw.count IS DISTINCT FROM rolled.count"
    "  OR raw.min IS DISTINCT FROM rolled.min OR raw.max IS DISTINCT FROM rolled.max"
    "  OR raw.last_ts IS DISTINCT FROM rolled.last_ts"
    "  OR abs(raw.sum - rolled.sum) > 1e-9 * greatest(1, abs(raw.sum)))"
    " FROM raw FULL JOIN rolled USING (org_id, kpi_id, bucket, dims_hash)"
)
DAY = "(ts AT TIME ZONE 'UTC')::date"
MONTH = "date_trunc('month', ts AT TIME ZONE 'UTC')::date"


async def assert_rollups_equal_raw_points(connection: AsyncConnection) -> None:
    for bucket, table, column in (
        (DAY, "kpi_day_rollups", "day"),
        (MONTH, "kpi_month_rollups", "month"),
    ):
        statement = text(ROLLUPS_MISMATCHED.text.format(bucket=bucket, table=table, column=column))
        buckets, mismatched = (await connection.execute(statement)).one()
        assert buckets > 0
        assert mismatched == 0, f"{mismatched} of {buckets} rows of {table} differ from points"


def assert_announced_once(log: list[dict[str, Any]]) -> dict[str, float]:
    """Each derived change announced once: per subject, every announcement starts where
    the one before ended (two processes announcing one move would break the chain), and
    an objective is achieved at most once. The last progress of each objective."""
    statuses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    progress: dict[str, list[dict[str, Any]]] = defaultdict(list)
    achieved: list[str] = []
    for event in log:
        data = event["data"]
        if event["type"] == "kpi.status_changed":
            statuses[data["kpi"]["id"]].append(data)
        elif event["type"] == "objective.progress_changed":
            progress[data["objective"]["id"]].append(data)
        elif event["type"] == "objective.achieved":
            achieved.append(data["objective"]["id"])
    assert statuses, "no KPI status was announced"
    assert progress, "no objective progress was announced"
    for chain in [*statuses.values(), *progress.values()]:
        assert all(change["from"] != change["to"] for change in chain), chain
        assert [c["from"] for c in chain[1:]] == [c["to"] for c in chain[:-1]], chain
    assert len(achieved) == len(set(achieved)), achieved
    return {objective: chain[-1]["to"] for objective, chain in progress.items()}


def assert_delivered_once(received: list[Received], log: list[dict[str, Any]]) -> None:
    ids = [request.headers["webhook-id"] for request in received]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert set(ids) == {event["id"] for event in log}, "an event was lost, or a stranger's sent"
    by_id = {event["id"]: event for event in log}
    for request in received:
        assert json.loads(request.body) == by_id[request.headers["webhook-id"]]


# --- tests ------------------------------------------------------------------------------------


async def test_two_processes_do_each_piece_of_background_work_once(
    pair: tuple[str, dict[str, str], list[Watched]],
) -> None:
    url, _, servers = pair
    tenant, stranger = await tenant_of(url, "shared"), await tenant_of(url, "stranger")
    async with database(url) as engine, receiving() as receiver, clients(servers) as https:
        first, second = https
        # Every event type, so that every event of the org is to be delivered.
        endpoint = await post(
            second, tenant, "/v1/webhook-endpoints", {"url": receiver.url, "events": ["*"]}
        )
        async with first.stream("GET", "/v1/events/stream", headers=tenant.headers) as response:
            assert response.status_code == 200
            # Open (its start fixed) before anything is written: it must send the whole log.
            stream = Stream(response)
            try:
                strategy = await build_strategy(second, tenant, stranger)
                replies = await asyncio.gather(*write_through_both(https, strategy))
                assert sum(reply.get("updated", 0) for reply in replies) > 0, "nothing merged"
                await until(lambda: quiet(engine, tenant), "the background work to be done")
                log = await items(first, tenant, "/v1/events")

                async def all_counted() -> bool:
                    # Each process counts just after its commit: a moment after the change
                    # log emptied and the deliveries were recorded.
                    return await counted(https, REFRESHED) >= CHANGES and (
                        await counted(https, SENT) >= len(log)
                    )

                await until(all_counted, "the processes to count what they did")
                streamed = await stream.until_seen(log[-1]["id"])
            finally:
                await stream.close()
        received = await receiver.wait_for(len(log))
        attempts = await items(second, tenant, f"/v1/webhook-endpoints/{endpoint['id']}/attempts")
        refreshed, sent = await counted(https, REFRESHED), await counted(https, SENT)
        progress = await first.get(
            f"/v1/objectives/{strategy.objective}/progress", headers=tenant.headers
        )
        assert progress.status_code == 200, progress.text
        async with engine.connect() as connection:
            await assert_rollups_equal_raw_points(connection)

    # Rollups: each change refreshed once, by one process or the other.
    assert refreshed == CHANGES
    # Webhooks: each event of the org (none of the other org's) sent once, one attempt each.
    assert_delivered_once(received, log)
    assert len(receiver.received) == len(log)
    assert sorted(a["event_id"] for a in attempts) == sorted(e["id"] for e in log)
    assert {a["status"] for a in attempts} == {"succeeded"}
    assert len({a["delivery_id"] for a in attempts}) == len(log)
    assert sent == len(log)
    # Derived events: announced once each, and the last one is where the data is now.
    last_progress = assert_announced_once(log)
    assert last_progress[strategy.objective] == pytest.approx(
        progress.json()["objective"]["progress"]
    )
    # The stream on the first server: the whole log in commit order, what was committed
    # through the second server and by either one's background loops included.
    assert streamed == log
    checked_in = [reply["id"] for reply in replies if "key_result_id" in reply]
    through_second = set(checked_in[1::2])  # write_through_both alternates, first first
    assert through_second
    assert through_second <= {
        e["data"]["check_in"]["id"] for e in streamed if e["type"] == "check_in.created"
    }
    assert {e["type"] for e in streamed} >= {
        "kpi.created",
        "points.ingested",
        "check_in.created",
        "kpi.status_changed",
        "objective.progress_changed",
    }


async def test_sigterm_drains_a_request_in_flight_while_the_other_server_serves(
    pair: tuple[str, dict[str, str], list[Watched]],
) -> None:
    """A third server gets a write the test holds up with a row lock; SIGTERMed, it stops
    taking connections and waits; released, the write completes with 200 and the server
    exits 0. The other servers answer throughout."""
    url, env, servers = pair
    tenant = await tenant_of(url, "drained")
    leaving = await watched(env)
    try:
        async with (
            database(url) as engine,
            httpx.AsyncClient(base_url=leaving.server.base_url, timeout=PATIENCE) as http,
            httpx.AsyncClient(base_url=servers[0].server.base_url, timeout=PATIENCE) as staying,
        ):
            kpi_id = await created(staying, tenant, "/v1/kpis", {"key": "held", "name": "held"})
            async with engine.connect() as holder:
                await holder.begin()
                await holder.execute(
                    text("SELECT FROM kpis WHERE org_id = :org_id AND id = :id FOR UPDATE"),
                    {"org_id": tenant.id, "id": kpi_id},
                )
                holder_pid = await holder.scalar(text("SELECT pg_backend_pid()"))
                yesterday = datetime.now(UTC).date() - timedelta(days=1)
                held = asyncio.create_task(
                    http.post(
                        "/v1/points",
                        headers=tenant.headers,
                        json=points_body(1, ["held"], yesterday),
                    )
                )
                await until(
                    lambda: blocked_by(engine, holder_pid), "the write to wait for the lock"
                )

                leaving.terminate()
                await leaving.logged(DRAINING)
                # Stopping: no new connection, the held request still in the server.
                with pytest.raises(httpx.ConnectError):
                    await http.get("/healthz")
                assert not held.done()
                assert (await staying.get("/readyz")).status_code == 200
                await holder.rollback()
            response = await asyncio.wait_for(held, PATIENCE)
            assert response.status_code == 200, response.text
            assert response.json()["inserted"] == POINTS_PER_KPI
            points = await staying.get(
                f"/v1/kpis/{kpi_id}/points", headers=tenant.headers, params={"limit": 100}
            )
            assert len(points.json()["items"]) == POINTS_PER_KPI
    finally:
        assert await leaving.stop() == 0, leaving.log


async def blocked_by(engine: AsyncEngine, holder_pid: int) -> bool:
    """Whether some session waits for a lock the session ``holder_pid`` holds."""
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"
            ),
            {"holder": holder_pid},
        )
    return bool(waiting)
