"""Concurrent ingestion: overlapping upserts never fail, and every point ends up stored once."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.points.helpers import (
    BASE,
    NDJSON,
    chunked,
    count_points,
    counts,
    create_kpi,
    list_points,
    ndjson_lines,
    point,
    post_body,
    post_json,
    post_points,
    ts,
)
from tests.support import Tenant

KPI = "sales.mrr"


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_concurrent_overlapping_upserts(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    requests = 6
    # Request n sends minutes 20n .. 20n+199 (heavy overlap), each in its own shuffled
    # order, with its own value n, and half the points with a dimension.
    bodies = []
    for number in range(requests):
        sent = [
            point(KPI, minute, float(number), **({"team": "emea"} if minute % 2 else {}))
            for minute in range(20 * number, 20 * number + 200)
        ]
        random.Random(number).shuffle(sent)
        bodies.append(sent)
    responses = await asyncio.gather(*(post_points(client, tenant, fmt, sent) for sent in bodies))
    assert [response.status_code for response in responses] == [200] * requests, [
        response.text for response in responses
    ]
    results = [counts(response) for response in responses]
    distinct = 20 * (requests - 1) + 200
    assert sum(item["inserted"] for item in results) == distinct  # each point inserted once
    stored = await list_points(client, tenant, kpi_id)
    assert len(stored) == distinct
    assert len({(item["ts"], str(item["dimensions"])) for item in stored}) == distinct
    for item in stored:
        minute = int(item["ts"][11:13]) * 60 + int(item["ts"][14:16])
        senders = [n for n in range(requests) if 20 * n <= minute < 20 * n + 200]
        assert item["value"] in {float(n) for n in senders}
        assert item["dimensions"] == ({"team": "emea"} if minute % 2 else {})


async def test_concurrent_identical_requests_store_each_point_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [point(KPI, minute, 1.0) for minute in range(300)]
    responses = await asyncio.gather(*(post_points(client, tenant, "json", sent) for _ in range(5)))
    results = [counts(response) for response in responses]
    assert sum(item["inserted"] for item in results) == 300
    assert sum(item["updated"] for item in results) == 0
    assert len(await list_points(client, tenant, kpi_id)) == 300


async def test_concurrent_large_overlapping_uploads(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Past one batch each, so every request merges from its staging table."""
    kpi_id = await create_kpi(client, tenant, KPI)

    def body(number: int) -> list[bytes]:
        return [
            b'{"kpi":"%s","ts":"%s","value":%d}\n' % (KPI.encode(), ts(minute).encode(), number)
            for minute in range(2_000 * number, 2_000 * number + 12_000)
        ]

    responses = await asyncio.gather(
        *(post_body(client, tenant, chunked(body(n)), "application/x-ndjson") for n in range(4))
    )
    results = [counts(response) for response in responses]
    assert all(item["received"] == 12_000 for item in results)
    distinct = 2_000 * 3 + 12_000
    assert sum(item["inserted"] for item in results) == distinct
    assert await count_points(sessionmaker, kpi_id) == distinct


async def test_concurrent_disjoint_points_are_all_stored(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mrr = await create_kpi(client, tenant, KPI)
    churn = await create_kpi(client, tenant, "sales.churn")
    theirs = await create_kpi(client, other_tenant, KPI)
    # Interleaved minutes: the time ranges overlap, the points do not.
    batches = [
        (tenant, [point(KPI, 5 * minute + n, float(n)) for minute in range(100)]) for n in range(5)
    ]
    batches.append((tenant, [point("sales.churn", minute, 0.5) for minute in range(500)]))
    batches.append((other_tenant, [point(KPI, minute, 7.0) for minute in range(500)]))
    responses = await asyncio.gather(
        *(post_points(client, owner, "ndjson", sent) for owner, sent in batches)
    )
    for response, (_, sent) in zip(responses, batches, strict=True):
        assert counts(response)["inserted"] == len(sent)
    stored = await list_points(client, tenant, mrr)
    assert [item["ts"] for item in stored] == [ts(minute) for minute in range(500)]
    assert [item["value"] for item in stored] == [float(minute % 5) for minute in range(500)]
    assert len(await list_points(client, tenant, churn)) == 500
    assert {item["value"] for item in await list_points(client, other_tenant, theirs)} == {7.0}


async def until_done_or_blocked(
    task: asyncio.Task[httpx.Response],
    sessionmaker: async_sessionmaker[AsyncSession],
    waiters: int = 1,
) -> None:
    """Return once the request is answered or ``waiters`` sessions wait on a lock here."""
    blocked = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(5000):
        if task.done():
            return
        async with sessionmaker() as session:
            if await session.scalar(blocked) >= waiters:
                return
    raise AssertionError("the request neither finished nor waited on a lock")


async def test_copy_and_merge_of_the_same_new_points_do_not_deadlock(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two requests writing the same new points, one straight into the table, one merged.

    A transaction of the test holds one new point uncommitted, so request A (none of
    whose points exist yet: it may write them directly) stops halfway through its
    points, holding the later half of its range. Request B (its range has a stored
    point: it merges) then takes the earlier half and waits on A. Once the test lets
    go, A continues: both must complete, whatever order each writes its rows in.
    """
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, [point(KPI, 0, 0.0)]))["inserted"] == 1
    held_minute = 1000
    # A's points in an order of its own: the later half of the range first, then the
    # held point, then the earlier half.
    a_order = [*range(held_minute // 2, held_minute), held_minute, *range(1, held_minute // 2)]
    a_points = [point(KPI, minute, 1.0) for minute in a_order]
    b_points = [point(KPI, minute, 2.0) for minute in range(held_minute + 1)]

    holder = sessionmaker()
    await holder.execute(
        text(
            "INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)"
            " VALUES (:org, :kpi, :ts, 0, 9.0, '{}')"
        ),
        {"org": tenant.id, "kpi": uuid.UUID(kpi_id), "ts": BASE + timedelta(minutes=held_minute)},
    )
    started: list[asyncio.Task[httpx.Response]] = []
    try:
        started.append(asyncio.create_task(post_points(client, tenant, "ndjson", a_points)))
        await until_done_or_blocked(started[0], sessionmaker)
        started.append(asyncio.create_task(post_points(client, tenant, "ndjson", b_points)))
        await until_done_or_blocked(started[1], sessionmaker, waiters=2)
    finally:
        await holder.rollback()
        await holder.close()
        replies = await asyncio.gather(*started)
    a_reply, b_reply = replies
    assert (a_reply.status_code, b_reply.status_code) == (200, 200), (a_reply.text, b_reply.text)
    assert counts(a_reply)["inserted"] + counts(b_reply)["inserted"] == held_minute
    stored = await list_points(client, tenant, kpi_id, limit="500")
    assert len(stored) == held_minute + 1
    assert all(item["value"] in (1.0, 2.0) for item in stored[1:])


async def test_kpi_deleted_during_an_upload_keeps_no_points(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The upload resolved the KPI key before the KPI was deleted: no orphan points remain."""
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, 100)
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield lines[0]
        reading.set()
        await release.wait()
        yield b"".join(lines[1:])

    upload = asyncio.create_task(post_body(client, tenant, slow_body(), NDJSON))
    reached = asyncio.create_task(reading.wait())
    await asyncio.wait({upload, reached}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    reached.cancel()
    assert reading.is_set(), upload.result().text if upload.done() else "no progress"
    deletion = asyncio.create_task(client.delete(f"/v1/kpis/{kpi_id}", headers=tenant.headers))
    try:
        await until_done_or_blocked(deletion, sessionmaker)
    finally:
        release.set()
        uploaded, deleted = await asyncio.gather(upload, deletion)
    assert deleted.status_code == 204, deleted.text
    assert uploaded.status_code in (200, 409, 422), uploaded.text
    assert await count_points(sessionmaker, kpi_id) == 0
    again = await create_kpi(client, tenant, KPI)
    assert await list_points(client, tenant, again) == []
