"""Ingestion with events consumed live, against ingestion with no one listening.

    python -m bench.events [--points 500000] [--batch 5000] [--concurrency 4] [--rounds 3]
                           [--clients 10] [--endpoints 1] [--latency-requests 200]
                           [--latency-batch 1000] [--latency-rate 20]

One fresh database and one real `perfapi serve` (uvicorn, one worker; webhook
delivery on at its default poll of 1 s, private targets allowed so that it may
send to 127.0.0.1). Every request of POST /v1/points records one
`points.ingested` event. A second process of the bench listens: a receiver
(uvicorn, a tiny ASGI app on 127.0.0.1) that answers 200 at once, notes when
each delivery arrived (by `webhook-id`) and checks every signature with the
`standardwebhooks` package; and --clients (10) readers of
GET /v1/events/stream?type=points.ingested, each noting when each event arrived.

Throughput: --points points (bench.ingest's) in JSON requests of about --batch
points, --concurrency in flight as bench.ingest sends them. No two requests are
of the same size, so that an event's `data.received` names its request; each
starts on a minute of its own, so that no two requests' time ranges overlap and
each is COPYed straight into `points` as bench.ingest's are. Each round writes
into an emptied `points`, once the rollup refresher has caught up:
  (a) no subscribers;
  (b) 1 webhook endpoint subscribed to `points.ingested` (created before the
      round, deleted after) and the stream readers connected; the round's events
      are all awaited, untimed, before the next round (--endpoints 0: the stream
      readers alone; --clients 0: the endpoint alone).
--rounds of each, interleaved (a b, b a, a b, ...) after an untimed warm-up of
both. Prints each round's points/s and the ratio of the medians. Target: (b)/(a)
>= 0.9. Also where the time goes, medians per round: CPU seconds of the server
process and of the listening one (it shares the machine), and the PostgreSQL
sessions opened (a pool that overflows opens and closes connections).

Delay from commit to arrival: an event commits in its request's transaction,
just before the response, so the time the client held the response stands for
the commit; delay = arrival at the receiver (or a stream reader) - that time. An
event can arrive before the client has read its response: such delays are
negative, and counted; nothing is clamped. Printed (median, p99, max) for the
(b) rounds at full speed and for a latency phase after them: --latency-requests
requests of about --latency-batch points, one at a time, --latency-rate a
second. Also printed: each event arrived at the receiver exactly once (repeats
counted) and at every stream reader, and no signature failed.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from operator import attrgetter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.common import Server, free_port, fresh_database, libpq_url, running_server
from bench.ingest import KPI_KEYS, TEAMS, create_kpis, points

TARGET = 0.9
EVENT_TYPE = "points.ingested"
# The server's settings in both runs alike: webhook delivery as deployed (its default
# poll), allowed to send to the bench's receiver on 127.0.0.1.
SERVER_SETTINGS = {"PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
QUIET_POLL_SECONDS = 0.2
QUIET_TIMEOUT_SECONDS = 600.0
ARRIVAL_TIMEOUT_SECONDS = 60.0
PER_MINUTE = len(KPI_KEYS) * len(TEAMS)  # bench.ingest's points: each KPI and team a minute


# --- the server ------------------------------------------------------------------------


def client_of(server: Server, connections: int = 10) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers=server.headers,
        timeout=300,
        limits=httpx.Limits(max_connections=connections),
        trust_env=False,  # no proxy from the environment: 127.0.0.1 only
    )


SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"


async def settle(database_url: str) -> int:
    """Wait for the rollup refresher to finish the last round's work, then empty `points`;
    how many sessions the database has had (this one included)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        deadline = time.monotonic() + QUIET_TIMEOUT_SECONDS
        while await connection.fetchval("SELECT count(*) FROM rollup_changes"):
            if time.monotonic() > deadline:
                raise RuntimeError("the server's refresher did not empty rollup_changes in time")
            await asyncio.sleep(QUIET_POLL_SECONDS)
        await connection.execute("TRUNCATE points")
        sessions: int = await connection.fetchval(SESSIONS)
        return sessions
    finally:
        await connection.close()


async def sessions_since(database_url: str, before: int) -> int:
    """Sessions opened since ``before`` was read, not counting the one reading this."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        sessions: int = await connection.fetchval(SESSIONS)
        return sessions - before - 1
    finally:
        await connection.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc, as bench.common reads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the listening process: a webhook receiver and stream readers ----------------------


@dataclass
class Arrivals:
    """What reached the listeners in one phase (times are time.time())."""

    delivered: dict[str, list[float]] = field(default_factory=dict)  # webhook-id: arrivals
    delivered_sizes: dict[str, int] = field(default_factory=dict)  # webhook-id: data.received
    verified: int = 0
    bad_signatures: int = 0
    streamed: list[list[tuple[str, float, int]]] = field(default_factory=list)
    """Per stream reader: (event id, arrival, data.received) in the order read."""


class Listeners:
    """Runs in the listening process: the receiver's ASGI app and the stream readers."""

    def __init__(self, client: httpx.AsyncClient, readers: int) -> None:
        self.client = client
        self.readers = readers
        self.webhook: Webhook | None = None
        self.arrivals = Arrivals()
        self.tasks: list[asyncio.Task[None]] = []
        self.arrived = asyncio.Event()

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        arrived = time.time()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        body = b"".join(chunks)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        message_id = headers.get("webhook-id", "")
        self.arrivals.delivered.setdefault(message_id, []).append(arrived)
        self.arrivals.delivered_sizes[message_id] = json.loads(body)["data"]["received"]
        try:
            assert self.webhook is not None
            self.webhook.verify(body, headers)
            self.arrivals.verified += 1
        except (AssertionError, WebhookVerificationError):
            self.arrivals.bad_signatures += 1
        self.arrived.set()

    async def read_stream(self, reader: int, connected: asyncio.Event) -> None:
        seen = self.arrivals.streamed[reader]
        async with self.client.stream(
            "GET", "/v1/events/stream", params={"type": EVENT_TYPE}
        ) as response:
            response.raise_for_status()
            connected.set()
            event_id, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue  # a heartbeat
                if not line:
                    if event_id and data:
                        received = json.loads(data)["data"]["received"]
                        seen.append((event_id, time.time(), received))
                        self.arrived.set()
                    event_id, data = "", ""
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event_id = value
                elif name == "data":
                    data = f"{data}\n{value}" if data else value

    async def open(self, secret: str | None) -> None:
        """Start a phase: the endpoint's secret (if one is subscribed), and every stream
        reader connected."""
        self.webhook = Webhook(secret) if secret is not None else None
        self.arrivals = Arrivals(streamed=[[] for _ in range(self.readers)])
        connected = [asyncio.Event() for _ in range(self.readers)]
        self.tasks = [
            asyncio.create_task(self.read_stream(reader, connected[reader]))
            for reader in range(self.readers)
        ]
        await asyncio.gather(*(event.wait() for event in connected))

    async def collect(self, expected: int) -> Arrivals:
        """Wait for ``expected`` events at the receiver (if subscribed) and at every
        reader, then close the streams."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
        delivered = expected if self.webhook is not None else 0
        while time.monotonic() < deadline:
            if len(self.arrivals.delivered) >= delivered and all(
                len(seen) >= expected for seen in self.arrivals.streamed
            ):
                break
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=1.0)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        self.webhook = None
        return self.arrivals


async def _listen(
    connection: Connection, base_url: str, token: str, port: int, readers: int
) -> None:
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30, read=None),
        limits=httpx.Limits(max_connections=readers + 2),
        trust_env=False,
    ) as client:
        listeners = Listeners(client, readers)
        config = uvicorn.Config(
            listeners.app,
            host="127.0.0.1",
            port=port,
            interface="asgi3",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        connection.send("listening")
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, connection.recv)
            if command == "open":
                await listeners.open(argument)
                connection.send("open")
            elif command == "collect":
                connection.send(await listeners.collect(argument))
            else:
                break
        server.should_exit = True
        await serving


def listen(connection: Connection, base_url: str, token: str, port: int, readers: int) -> None:
    asyncio.run(_listen(connection, base_url, token, port, readers))


@dataclass
class Listening:
    """The bench's handle on the listening process."""

    connection: Connection
    url: str
    pid: int

    def open(self, secret: str | None) -> None:
        self.connection.send(("open", secret))
        assert self.connection.recv() == "open"

    def collect(self, expected: int) -> Arrivals:
        self.connection.send(("collect", expected))
        arrivals: Arrivals = self.connection.recv()
        return arrivals


@contextmanager
def listening(server: Server, readers: int) -> Iterator[Listening]:
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=listen, args=(theirs, server.base_url, server.token, port, readers), daemon=True
    )
    process.start()
    try:
        if not ours.poll(60) or ours.recv() != "listening":
            raise RuntimeError("the listening process did not start")
        assert process.pid is not None
        yield Listening(ours, f"http://127.0.0.1:{port}/webhook", process.pid)
    finally:
        if process.is_alive():
            ours.send(("stop", None))
            process.join(timeout=10)
        if process.is_alive():
            process.terminate()
            process.join()


# --- ingesting -------------------------------------------------------------------------


def distinct_sizes(total: int, batch: int) -> list[int]:
    """Request sizes of about ``batch`` that sum to ``total``, no two alike (so an
    event's `data.received` names its request): consecutive sizes around the mean."""
    count = max(1, round(total / batch))
    start, extra = divmod(total - count * (count - 1) // 2, count)
    if start < 1:
        raise ValueError("too many requests for so few points")
    return [start + number + (number >= count - extra) for number in range(count)]


@dataclass(frozen=True)
class Bodies:
    sizes: list[int]
    contents: list[bytes]

    @property
    def points(self) -> int:
        return sum(self.sizes)


def json_bodies(sizes: list[int]) -> Bodies:
    """A body per size; each starts on a minute of its own (every KPI and team is
    PER_MINUTE points), so that no two requests' time ranges overlap and every
    request is written as bench.ingest's are: COPYed straight into `points`."""
    contents, first = [], 0
    for size in sizes:
        contents.append(msgspec.json.encode({"points": list(points(size, first=first))}))
        first += -(-size // PER_MINUTE) * PER_MINUTE
    return Bodies(sizes, contents)


@dataclass
class Posted:
    seconds: float
    answered: dict[int, float]  # request size: when its response was held (time.time())


async def post_bodies(
    server: Server, bodies: Bodies, concurrency: int, rate: float | None = None
) -> Posted:
    """POST every body, `concurrency` in flight (or one at a time, ``rate`` a second)."""
    answered: dict[int, float] = {}
    queue = list(reversed(list(zip(bodies.sizes, bodies.contents, strict=True))))
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers=server.headers,
        timeout=300,
        limits=httpx.Limits(max_connections=concurrency),
        trust_env=False,
    ) as client:

        async def worker() -> None:
            while queue:
                size, content = queue.pop()
                if rate is not None:
                    await asyncio.sleep(max(0.0, started + len(answered) / rate - time.time()))
                response = await client.post(
                    "/v1/points", content=content, headers={"Content-Type": "application/json"}
                )
                answered[size] = time.time()
                response.raise_for_status()
                assert response.json()["inserted"] == size, response.json()

        started, clock = time.time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(1 if rate is not None else concurrency)))
        return Posted(time.perf_counter() - clock, answered)


@dataclass
class Round:
    posted: Posted
    arrivals: Arrivals | None
    server_cpu: float = 0.0  # seconds, during the round (events awaited included)
    listener_cpu: float = 0.0
    sessions: int = 0  # new PostgreSQL sessions during the round


@dataclass(frozen=True)
class Subscribers:
    endpoint: bool  # 1 webhook endpoint subscribed, or none
    readers: int

    def __str__(self) -> str:
        endpoints = "1 webhook endpoint" if self.endpoint else "no webhook endpoint"
        return f"{endpoints} + {self.readers} stream readers"


def ingest(
    server: Server,
    database_url: str,
    listener: Listening,
    bodies: Bodies,
    concurrency: int,
    subscribers: Subscribers | None,
    rate: float | None = None,
) -> Round:
    """One round into an emptied `points`: without subscribers, or with them (the
    endpoint created before and deleted after, the streams connected before and
    closed once every event reached them)."""
    sessions = asyncio.run(settle(database_url))
    cpu = cpu_seconds(server.pid), cpu_seconds(listener.pid)
    found = _ingest(server, listener, bodies, concurrency, subscribers, rate)
    found.server_cpu = cpu_seconds(server.pid) - cpu[0]
    found.listener_cpu = cpu_seconds(listener.pid) - cpu[1]
    found.sessions = asyncio.run(sessions_since(database_url, sessions))
    return found


def _ingest(
    server: Server,
    listener: Listening,
    bodies: Bodies,
    concurrency: int,
    subscribers: Subscribers | None,
    rate: float | None,
) -> Round:
    if subscribers is None:
        return Round(asyncio.run(post_bodies(server, bodies, concurrency, rate)), None)
    with client_of(server) as client:
        endpoint = None
        if subscribers.endpoint:
            response = client.post(
                "/v1/webhook-endpoints", json={"url": listener.url, "events": [EVENT_TYPE]}
            )
            response.raise_for_status()
            endpoint = response.json()
        listener.open(endpoint["secret"] if endpoint else None)
        posted = asyncio.run(post_bodies(server, bodies, concurrency, rate))
        arrivals = listener.collect(len(bodies.sizes))
        if endpoint:
            client.delete(f"/v1/webhook-endpoints/{endpoint['id']}").raise_for_status()
    return Round(posted, arrivals)


# --- figures ---------------------------------------------------------------------------


@dataclass
class Delivery:
    """Completeness and delays of the phases it was given, pooled."""

    events: int = 0
    delivered: int = 0
    repeats: int = 0
    foreign: int = 0  # arrivals that named no request of the phase
    verified: int = 0
    bad_signatures: int = 0
    readers_complete: int = 0
    readers: int = 0
    receiver_delays: list[float] = field(default_factory=list)
    stream_delays: list[float] = field(default_factory=list)

    def add(self, found: Round, endpoint: bool) -> None:
        arrivals, answered = found.arrivals, found.posted.answered
        assert arrivals is not None
        expected = set(answered)
        self.events += len(expected)
        self.verified += arrivals.verified
        self.bad_signatures += arrivals.bad_signatures
        delivered_sizes = set()
        for message_id, times in arrivals.delivered.items():
            size = arrivals.delivered_sizes[message_id]
            self.repeats += len(times) - 1
            if size not in answered:
                self.foreign += 1
                continue
            delivered_sizes.add(size)
            self.receiver_delays.append(times[0] - answered[size])
        self.delivered += len(delivered_sizes)
        delivered_ids = set(arrivals.delivered)
        for seen in arrivals.streamed:
            self.readers += 1
            ids = [event_id for event_id, _, _ in seen]
            sizes = {size for _, _, size in seen}
            same_ids = set(ids) == delivered_ids or not endpoint
            if len(ids) == len(set(ids)) and same_ids and sizes == expected:
                self.readers_complete += 1
            for _, arrived, size in seen:
                if size in answered:
                    self.stream_delays.append(arrived - answered[size])
                else:
                    self.foreign += 1

    def print(self, label: str, subscribers: Subscribers) -> None:
        print(label)
        if subscribers.endpoint:
            print(
                f"  receiver: {self.delivered:,}/{self.events:,} events, {self.repeats} "
                f"repeats, {self.foreign} foreign; signatures verified {self.verified:,}, "
                f"failed {self.bad_signatures}"
            )
            print(f"  delay to receiver: {spread(self.receiver_delays)}")
        if subscribers.readers:
            print(
                f"  stream readers with every event exactly once: "
                f"{self.readers_complete}/{self.readers} ({len(self.stream_delays):,} arrivals)"
            )
            print(f"  delay to streams:  {spread(self.stream_delays)}")


def spread(delays: list[float]) -> str:
    if not delays:
        return "nothing arrived"
    ms = sorted(delay * 1000 for delay in delays)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    negative = sum(delay < 0 for delay in ms)
    return (
        f"median {statistics.median(ms):7.1f} ms, p99 {p99:7.1f} ms, max {ms[-1]:7.1f} ms, "
        f"min {ms[0]:6.1f} ms ({negative} negative of {len(ms):,})"
    )


def run(arguments: argparse.Namespace) -> None:
    subscribers = Subscribers(bool(arguments.endpoints), arguments.clients)
    bodies = json_bodies(distinct_sizes(arguments.points, arguments.batch))
    warm = json_bodies(distinct_sizes(min(arguments.points, 50_000), arguments.batch // 2))
    latency = json_bodies(
        distinct_sizes(
            arguments.latency_requests * arguments.latency_batch, arguments.latency_batch
        )
    )
    kept: dict[bool, list[Round]] = {False: [], True: []}
    at_speed, paced = Delivery(), Delivery()
    with (
        fresh_database() as database_url,
        running_server(database_url, SERVER_SETTINGS) as server,
        listening(server, arguments.clients) as listener,
    ):
        create_kpis(server)

        def one(body: Bodies, subscribed: bool, rate: float | None = None) -> Round:
            return ingest(
                server,
                database_url,
                listener,
                body,
                arguments.concurrency,
                subscribers if subscribed else None,
                rate,
            )

        for subscribed in (False, True):
            one(warm, subscribed)
        for number in range(arguments.rounds):
            for subscribed in (False, True) if number % 2 == 0 else (True, False):
                found = one(bodies, subscribed)
                kept[subscribed].append(found)
                if subscribed:
                    at_speed.add(found, subscribers.endpoint)
        paced.add(one(latency, True, arguments.latency_rate), subscribers.endpoint)
    sizes = bodies.sizes
    print(
        f"points: {bodies.points:,} per round in {len(sizes)} requests of "
        f"{min(sizes):,}-{max(sizes):,} points, {arguments.concurrency} in flight; "
        f"{arguments.rounds} rounds of each, interleaved"
    )
    print(f"(b): {subscribers}")
    rates = {
        subscribed: [bodies.points / found.posted.seconds for found in rounds]
        for subscribed, rounds in kept.items()
    }
    for number, (alone, heard) in enumerate(zip(rates[False], rates[True], strict=True), 1):
        print(
            f"round {number}: (a) {alone:>10,.0f} points/s   (b) {heard:>10,.0f} points/s"
            f"   (b)/(a) {heard / alone:.2f}"
        )
    alone, heard = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"(a) no subscribers, median:  {alone:>10,.0f} points/s")
    print(f"(b) subscribers, median:     {heard:>10,.0f} points/s")
    ratio = heard / alone
    verdict = "met" if ratio >= TARGET else "missed"
    print(f"ratio (b)/(a): {ratio:.2f}  (target >= {TARGET}: {verdict})")
    print("where the time goes, medians per round (in (b), until every event arrived):")
    for label, unit, digits, measure in (
        ("server process CPU", "s", 1, attrgetter("server_cpu")),
        ("listening process CPU", "s", 1, attrgetter("listener_cpu")),
        ("new PostgreSQL sessions", "", 0, attrgetter("sessions")),
    ):
        a, b = (statistics.median(map(measure, kept[subscribed])) for subscribed in (False, True))
        line = f"  {label + ':':<25}(a) {a:6.{digits}f} {unit:<1}   (b) {b:6.{digits}f} {unit}"
        print(line.rstrip())
    at_speed.print(
        f"delay from the ingest response to arrival, (b) rounds at full speed "
        f"({at_speed.events:,} events):",
        subscribers,
    )
    latency_sizes = latency.sizes
    paced.print(
        f"delay from the ingest response to arrival, {len(latency_sizes)} requests of "
        f"{min(latency_sizes):,}-{max(latency_sizes):,} points one at a time at "
        f"{arguments.latency_rate:g}/s:",
        subscribers,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10, help="stream readers")
    parser.add_argument(
        "--endpoints", type=int, choices=(0, 1), default=1, help="0: stream readers only"
    )
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--latency-batch", type=int, default=1_000)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="requests a second")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
