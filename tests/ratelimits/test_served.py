"""Rate limits across real ``perfapi serve`` processes on one fresh database: with one
PERFAPI_REDIS_URL they share each caller's budget; without it each counts alone."""

import asyncio

import httpx

from tests.cli.processes import perfapi_env, run_cli
from tests.ratelimits.conftest import RedisSpace
from tests.ratelimits.helpers import assert_policy, assert_rate_limited, remaining
from tests.support import Tenant, bearer, fresh_database
from tests.webhook_endpoints.test_served import clients, serving, tenant_of


async def limited_key(
    http: httpx.AsyncClient, tenant: Tenant, limit: int
) -> tuple[str, dict[str, str]]:
    """The id and headers of a read key with its own limit, made through the API (the
    admin key's request counts against the admin key only)."""
    response = await http.post(
        "/v1/api-keys",
        headers=tenant.headers,
        json={"name": "limited", "scopes": ["read"], "rate_limit_per_minute": limit},
    )
    assert response.status_code == 201, response.text
    assert response.json()["rate_limit_per_minute"] == limit
    return response.json()["id"], bearer(response.json()["key"])


async def test_two_servers_sharing_redis_share_one_budget(
    database_server_url: str, redis_space: RedisSpace
) -> None:
    async with fresh_database(database_server_url, "ratelimits") as url:
        env = perfapi_env(
            PERFAPI_DATABASE_URL=url,
            PERFAPI_REDIS_URL=redis_space.url,
            PERFAPI_REDIS_KEY_PREFIX=redis_space.prefix,
        )
        async with serving(env, count=2) as servers, clients(servers) as (first, second):
            tenant = await tenant_of(url, "shared")
            key_id, key = await limited_key(first, tenant, 4)
            alternating = [await http.get("/v1/kpis", headers=key) for http in (first, second) * 2]
            assert [answer.status_code for answer in alternating] == [200] * 4
            assert [remaining(answer, "key")[0] for answer in alternating] == [3, 2, 1, 0]
            assert_policy(alternating[0], "key", 4)
            # The fifth is over the budget, whichever process answers it.
            assert_rate_limited(await first.get("/v1/kpis", headers=key), "key", 4)
            assert_rate_limited(await second.get("/v1/kpis", headers=key), "key", 4)

            # At once, through both: exactly the limit passes.
            other_id, other = await limited_key(second, tenant, 4)
            burst = await asyncio.gather(
                *((first, second)[i % 2].get("/v1/kpis", headers=other) for i in range(12))
            )
            assert sorted(answer.status_code for answer in burst) == [200] * 4 + [429] * 8
    # Under the test's prefix, with the org first; a key lives until its allowance is
    # whole again (the admin key's, 10 ms a request, may be gone already).
    caller = redis_space.prefix + f"ratelimit:caller:{tenant.id}:api_key:"
    keys = await redis_space.keys()
    assert {caller + key_id, caller + other_id} <= set(keys)
    assert all(name.startswith(caller) for name in keys)
    for limited in (key_id, other_id):
        assert 0 < await redis_space.client.pttl(caller + limited) <= 60_000


async def test_without_redis_each_server_counts_alone(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "ratelimits") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url)
        async with serving(env, count=2) as servers, clients(servers) as (first, second):
            tenant = await tenant_of(url, "alone")
            code, out, err = await run_cli(
                *("keys", "create", "--org", "alone", "--scope", "read"),
                *("--rate-limit-per-minute", "2"),
                env=env,
            )
            assert code == 0, err
            key = bearer(out.strip())
            for http in (first, second):
                answers = [await http.get("/v1/kpis", headers=key) for _ in range(3)]
                assert [answer.status_code for answer in answers] == [200, 200, 429]
                assert_rate_limited(answers[2], "key", 2)
            listed = await first.get("/v1/api-keys", headers=tenant.headers)
            limits = {
                item["name"]: item["rate_limit_per_minute"] for item in listed.json()["items"]
            }
            assert limits == {"created by the CLI": 2, "test admin": None}
