"""Idempotency-Key on POST /v1/points: replay, reuse with another body, in flight, per org."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.points.helpers import (
    NDJSON,
    assert_no_points,
    chunked,
    counts,
    create_kpi,
    list_points,
    ndjson,
    point,
    post_body,
    post_json,
    post_points,
    result,
)
from tests.support import Tenant, assert_problem, error_locs

KPI = "sales.mrr"
SENT = [point(KPI, minute, 1.0) for minute in range(3)]


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
async def test_same_key_and_body_replays_the_first_reply(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    first = await post_points(client, tenant, fmt, SENT, key("batch-1"))
    assert counts(first) == result(3, 3, 0, 0)
    assert "idempotent-replayed" not in first.headers

    replay = await post_points(client, tenant, fmt, SENT, key("batch-1"))
    assert replay.status_code == first.status_code == 200
    assert replay.json() == first.json()  # inserted=3 again, not unchanged=3
    assert replay.headers["idempotent-replayed"] == "true"

    without_key = await post_points(client, tenant, fmt, SENT)
    assert counts(without_key) == result(3, 0, 0, 3)  # what a real re-run would say
    assert len(await list_points(client, tenant, kpi_id)) == 3


async def test_same_body_in_other_chunks_is_the_same_request(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = ndjson(SENT)
    whole = await post_body(client, tenant, body, NDJSON, key("chunks"))
    assert counts(whole) == result(3, 3, 0, 0)
    streamed = await post_body(client, tenant, chunked([body], size=7), NDJSON, key("chunks"))
    assert streamed.headers["idempotent-replayed"] == "true"
    assert streamed.json() == whole.json()
    assert len(await list_points(client, tenant, kpi_id)) == 3


async def test_replay_does_not_run_the_request_again(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    assert (await post_json(client, tenant, SENT, key("k"))).status_code == 200
    newer = [{**item, "value": 9.0} for item in SENT]
    assert counts(await post_json(client, tenant, newer)) == result(3, 0, 3, 0)
    replay = await post_json(client, tenant, SENT, key("k"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == result(3, 3, 0, 0)
    assert [item["value"] for item in await list_points(client, tenant, kpi_id)] == [9.0] * 3


@pytest.mark.parametrize(
    ("second_body", "second_type"),
    [
        pytest.param(ndjson([{**SENT[0], "value": 2.0}, *SENT[1:]]), NDJSON, id="other-value"),
        pytest.param(ndjson(SENT[:2]), NDJSON, id="fewer-points"),
        pytest.param(ndjson(SENT) + b"\n", NDJSON, id="other-bytes-same-points"),
        pytest.param(b'{"points": []}', "application/json", id="other-media-type"),
    ],
)
async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, tenant: Tenant, second_body: bytes, second_type: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    first = await post_body(client, tenant, ndjson(SENT), NDJSON, key("k"))
    assert counts(first) == result(3, 3, 0, 0)
    reused = await post_body(client, tenant, second_body, second_type, key("k"))
    assert_problem(reused, 422, "idempotency-key-reused")
    stored = await list_points(client, tenant, kpi_id)
    assert [item["value"] for item in stored] == [1.0, 1.0, 1.0]
    # The key still replays its own request.
    again = await post_body(client, tenant, ndjson(SENT), NDJSON, key("k"))
    assert again.headers["idempotent-replayed"] == "true"


async def test_same_key_while_the_first_is_in_flight_is_409(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson(SENT).splitlines(keepends=True)
    waiting = asyncio.Event()
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield lines[0]
        waiting.set()  # the server asked for more: it holds the key now
        await release.wait()
        yield b"".join(lines[1:])

    first = asyncio.create_task(post_body(client, tenant, slow_body(), NDJSON, key("slow")))
    reached = asyncio.create_task(waiting.wait())
    try:
        # Until the server asks for the rest of the body, or the first request ends early.
        await asyncio.wait({first, reached}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        assert waiting.is_set(), first.result().text if first.done() else "no progress"
        second = await post_body(client, tenant, ndjson(SENT), NDJSON, key("slow"))
        assert_problem(second, 409, "conflict")
        assert second.headers["retry-after"] == "1"
        other_key = await post_json(client, tenant, [point(KPI, 10, 1.0)], key("other"))
        assert counts(other_key) == result(1, 1, 0, 0)  # only this key is busy
    finally:
        release.set()
        reached.cancel()
        response = await asyncio.wait_for(first, 30)
    assert counts(response) == result(3, 3, 0, 0)
    assert "idempotent-replayed" not in response.headers
    replay = await post_body(client, tenant, ndjson(SENT), NDJSON, key("slow"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == response.json()
    assert len(await list_points(client, tenant, kpi_id)) == 4


async def test_keys_are_per_org(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_kpi(client, tenant, KPI)
    theirs = await create_kpi(client, other_tenant, KPI)
    first = await post_json(client, tenant, SENT, key("shared"))
    assert counts(first) == result(3, 3, 0, 0)
    # Another body under the same key in another org is no reuse: it is their own request.
    changed = [{**item, "value": 5.0} for item in SENT]
    other = await post_json(client, other_tenant, changed, key("shared"))
    assert counts(other) == result(3, 3, 0, 0)
    assert "idempotent-replayed" not in other.headers
    # Each org replays its own reply.
    mine_again = await post_json(client, tenant, SENT, key("shared"))
    theirs_again = await post_json(client, other_tenant, changed, key("shared"))
    assert mine_again.headers["idempotent-replayed"] == "true"
    assert theirs_again.headers["idempotent-replayed"] == "true"
    assert [item["value"] for item in await list_points(client, tenant, mine)] == [1.0] * 3
    assert [item["value"] for item in await list_points(client, other_tenant, theirs)] == [5.0] * 3


async def test_failed_request_can_be_retried_under_its_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    broken = [*SENT, {**SENT[0], "ts": "2026-01-01T00:00:00"}]
    failed = await post_json(client, tenant, broken, key("retry-me"))
    assert_problem(failed, 422, "validation-error")
    await assert_no_points(client, tenant, kpi_id)

    fixed = await post_json(client, tenant, SENT, key("retry-me"))
    assert counts(fixed) == result(3, 3, 0, 0)
    assert "idempotent-replayed" not in fixed.headers
    replay = await post_json(client, tenant, SENT, key("retry-me"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(await list_points(client, tenant, kpi_id)) == 3


async def test_empty_request_replays_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await post_json(client, tenant, [], key("nothing"))
    assert counts(first) == result(0, 0, 0, 0)
    replay = await post_json(client, tenant, [], key("nothing"))
    assert replay.json() == result(0, 0, 0, 0)
    assert replay.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("value", ["", "k" * 256])
async def test_bad_key_is_422(client: httpx.AsyncClient, tenant: Tenant, value: str) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_json(client, tenant, SENT, key(value))
    assert error_locs(assert_problem(response, 422)) == [["header", "Idempotency-Key"]]
    await assert_no_points(client, tenant, kpi_id)


async def test_longest_key_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_kpi(client, tenant, KPI)
    long_key = key("k" * 255)
    assert counts(await post_json(client, tenant, SENT, long_key)) == result(3, 3, 0, 0)
    assert (await post_json(client, tenant, SENT, long_key)).headers[
        "idempotent-replayed"
    ] == "true"
