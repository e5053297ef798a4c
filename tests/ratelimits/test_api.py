"""Rate limits through the real app, on both stores (this process, and a real Redis):
per key and by default, one token per request whatever it carries, webhook senders per
source, the headers on every counted answer, and Redis shared by two apps or down."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from perfapi.config import Settings
from tests.cli.processes import free_port
from tests.points.helpers import count_points, ndjson_lines, point
from tests.ratelimits.conftest import RedisSpace
from tests.ratelimits.helpers import (
    assert_policy,
    assert_rate_limited,
    make_key,
    no_rate_limit_headers,
    remaining,
)
from tests.support import Tenant, assert_problem, running
from tests.webhooks.helpers import create_source, deliveries, send_standard, simple_payload


@pytest.fixture(params=["local", "redis"])
def space(request: pytest.FixtureRequest) -> RedisSpace | None:
    """The store under test: None for this process, else a Redis space."""
    if request.param == "local":
        return None
    redis_space: RedisSpace = request.getfixturevalue("redis_space")
    return redis_space


@pytest.fixture
def backend(space: RedisSpace | None) -> dict[str, Any]:
    """Settings for the store under test."""
    return {} if space is None else on_redis(space)


def on_redis(space: RedisSpace) -> dict[str, Any]:
    return {"redis_url": space.url, "redis_key_prefix": space.prefix}


@asynccontextmanager
async def serving(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, so its limiter starts empty."""
    async with running(settings.model_copy(update=overrides)) as http:
        yield http


async def test_a_key_over_its_own_limit_gets_429_and_other_keys_do_not(
    settings: Settings,
    backend: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    limited = await make_key(sessionmaker, tenant, 3)
    unlimited = await make_key(sessionmaker, tenant, None)
    async with serving(settings, **backend) as http:
        answers = [await http.get("/v1/kpis", headers=limited) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200] * 3
        for answer in answers:
            assert_policy(answer, "key", 3)
        # One request every 20 s; t: until the allowance is whole, or (none left) the next.
        assert [remaining(answer, "key") for answer in answers] == [(2, 20), (1, 40), (0, 20)]

        refused = await http.get("/v1/kpis", headers=limited)
        body = assert_rate_limited(refused, "key", 3)
        assert body["detail"] == "Over the rate limit of 3 requests a minute; retry in 20 seconds."
        assert refused.headers["retry-after"] == "20"
        assert_rate_limited(await http.get("/v1/kpis", headers=limited), "key", 3)

        # The same org's other keys have budgets of their own.
        other = await http.get("/v1/kpis", headers=unlimited)
        assert other.status_code == 200
        assert_policy(other, "default", 6000)
        assert remaining(other, "default") == (5999, 1)
        admin = await http.get("/v1/kpis", headers=tenant.headers)
        assert remaining(admin, "default") == (5999, 1)


async def test_the_default_applies_to_keys_without_their_own(
    settings: Settings,
    backend: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
) -> None:
    own = await make_key(sessionmaker, tenant, 4)
    async with serving(settings, rate_limit_per_minute=2, **backend) as http:
        by_default = [await http.get("/v1/kpis", headers=tenant.headers) for _ in range(3)]
        assert [answer.status_code for answer in by_default] == [200, 200, 429]
        assert_policy(by_default[0], "default", 2)
        assert_rate_limited(by_default[2], "default", 2)
        # A key's own limit wins, above the default as well as below it.
        owned = [await http.get("/v1/kpis", headers=own) for _ in range(5)]
        assert [answer.status_code for answer in owned] == [200] * 4 + [429]
        assert_rate_limited(owned[4], "key", 4)


async def test_ingestion_takes_one_token_per_request_whatever_it_carries(
    settings: Settings,
    backend: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    tenant: Tenant,
) -> None:
    kpi = await client.post("/v1/kpis", headers=tenant.headers, json={"key": "m", "name": "M"})
    assert kpi.status_code == 201, kpi.text
    kpi_id = kpi.json()["id"]
    ingest = await make_key(sessionmaker, tenant, 3, Scope.INGEST)
    async with serving(settings, **backend) as http:
        many = [point("m", minute, 1.0) for minute in range(1000)]
        as_json = await http.post("/v1/points", headers=ingest, json={"points": many})
        assert as_json.status_code == 200, as_json.text
        assert remaining(as_json, "key")[0] == 2
        lines = b"".join(ndjson_lines("m", 2000, value=2.0, start=1000))
        as_ndjson = await http.post(
            "/v1/points",
            headers={**ingest, "Content-Type": "application/x-ndjson"},
            content=lines,
        )
        assert as_ndjson.status_code == 200, as_ndjson.text
        assert remaining(as_ndjson, "key")[0] == 1
        one = await http.post("/v1/points", headers=ingest, json={"points": [point("m", 0, 5)]})
        assert remaining(one, "key")[0] == 0

        more = [point("m", minute, 9.0) for minute in range(3000, 3500)]
        refused = await http.post("/v1/points", headers=ingest, json={"points": more})
        assert_rate_limited(refused, "key", 3)
    assert await count_points(sessionmaker, kpi_id) == 3000  # nothing of the refused one


async def test_webhook_receipt_is_limited_per_source(
    settings: Settings,
    space: RedisSpace | None,
    backend: dict[str, Any],
    client: httpx.AsyncClient,
    tenant: Tenant,
) -> None:
    kpi = await client.post(
        "/v1/kpis", headers=tenant.headers, json={"key": "sales.mrr", "name": "MRR"}
    )
    assert kpi.status_code == 201, kpi.text
    source = await create_source(client, tenant, rate_limit_per_minute=2)
    other = await create_source(client, tenant, rate_limit_per_minute=2)
    async with serving(settings, **backend) as http:
        sent = [await send_standard(http, source, simple_payload(1.0, hour=h)) for h in (1, 2)]
        assert [answer.status_code for answer in sent] == [200, 200]
        assert_policy(sent[0], "source", 2)
        assert [remaining(answer, "source") for answer in sent] == [(1, 30), (0, 30)]
        refused = await send_standard(http, source, simple_payload(1.0, hour=3))
        assert_rate_limited(refused, "source", 2)
        # Another source of the org is not slowed down.
        assert (await send_standard(http, other, simple_payload(1.0))).status_code == 200
    assert len(await deliveries(client, tenant, source["id"])) == 2
    if space is not None:
        prefix = space.prefix + f"ratelimit:source:{tenant.id}:"
        assert await space.keys() == sorted([prefix + source["id"], prefix + other["id"]])


async def test_a_request_is_counted_once_however_often_it_is_authorized(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """Conditional reads check the key for their tag and for the answer: one token."""
    admin = await make_key(sessionmaker, tenant, 3, Scope.ADMIN)
    listed = await client.get("/v1/api-keys", headers=admin)
    assert listed.status_code == 200
    assert remaining(listed, "key")[0] == 2
    key_id = listed.json()["items"][0]["id"]
    fetched = await client.get(f"/v1/api-keys/{key_id}", headers=admin)
    assert remaining(fetched, "key")[0] == 1


async def test_every_answer_to_a_counted_request_has_the_headers(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    reader = await make_key(sessionmaker, tenant, 10)
    unknown = await client.get("/v1/kpis/00000000-0000-4000-8000-000000000000", headers=reader)
    assert_problem(unknown, 404, "not-found")
    assert remaining(unknown, "key")[0] == 9
    invalid = await client.get("/v1/kpis", headers=reader, params={"limit": "0"})
    assert_problem(invalid, 422, "validation-error")
    assert remaining(invalid, "key")[0] == 8
    exported = await client.get("/v1/kpis", headers=reader, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert remaining(exported, "key")[0] == 7
    # A write needs the write scope: refused before it is counted.
    forbidden = await client.post("/v1/kpis", headers=reader, json={"key": "k", "name": "K"})
    assert_problem(forbidden, 403, "forbidden")
    assert no_rate_limit_headers(forbidden)
    assert remaining(await client.get("/v1/kpis", headers=reader), "key")[0] == 6

    # No caller, no limit.
    anonymous = await client.get("/v1/kpis")
    assert_problem(anonymous, 401, "unauthorized")
    assert no_rate_limit_headers(anonymous)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        answer = await client.get(path, headers=reader)
        assert answer.status_code == 200, path
        assert no_rate_limit_headers(answer), path


async def test_browsers_may_read_the_headers_across_origins(
    settings: Settings, tenant: Tenant
) -> None:
    origin = "https://ui.example"
    async with serving(settings, cors_origins=[origin]) as http:
        answer = await http.get("/v1/kpis", headers={**tenant.headers, "Origin": origin})
    assert answer.status_code == 200
    exposed = {
        name.strip().lower() for name in answer.headers["access-control-expose-headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed


async def test_two_apps_on_one_redis_share_each_budget_exactly(
    settings: Settings,
    redis_space: RedisSpace,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    tenant: Tenant,
) -> None:
    """Concurrent requests through two apps: exactly the limit passes (the script is
    atomic), and a webhook source's budget is shared the same way."""
    key = await make_key(sessionmaker, tenant, 5)
    kpi = {"key": "sales.mrr", "name": "MRR"}
    assert (await client.post("/v1/kpis", headers=tenant.headers, json=kpi)).status_code == 201
    source = await create_source(client, tenant, rate_limit_per_minute=2)
    shared = on_redis(redis_space)
    async with serving(settings, **shared) as first, serving(settings, **shared) as second:
        answers = await asyncio.gather(
            *((first if i % 2 else second).get("/v1/kpis", headers=key) for i in range(20))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] * 5 + [429] * 15
        for answer in answers:
            if answer.status_code == 429:
                assert_rate_limited(answer, "key", 5)

        hooks = [first, second, first, second]
        sent = [
            await send_standard(http, source, simple_payload(hour=h))
            for h, http in enumerate(hooks)
        ]
        assert [answer.status_code for answer in sent] == [200, 200, 429, 429]
    caller = re.compile(
        re.escape(redis_space.prefix) + rf"ratelimit:caller:{tenant.id}:api_key:[0-9a-f-]{{36}}$"
    )
    keys = await redis_space.keys()
    assert len(keys) == 2
    assert sum(bool(caller.match(name)) for name in keys) == 1
    for name in keys:
        assert 0 < await redis_space.client.pttl(name) <= 60_000


async def test_an_unreachable_redis_lets_requests_through(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """Fail open: nothing is refused, nothing claims a count it does not know, and the
    metrics say how many requests went unchecked."""
    key = await make_key(sessionmaker, tenant, 1)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    async with serving(settings, redis_url=closed) as http:
        answers = [await http.get("/v1/kpis", headers=key) for _ in range(3)]
        metrics = await http.get("/metrics")
    assert [answer.status_code for answer in answers] == [200] * 3
    for answer in answers:
        assert_policy(answer, "key", 1)
        assert "ratelimit" not in answer.headers
    assert "perfapi_rate_limit_unchecked_total 3.0" in metrics.text
