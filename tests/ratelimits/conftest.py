"""Fixtures of the rate-limit tests: a real Redis, and each test's own keys in it.

Redis is ``PERFAPI_TEST_REDIS_URL``, else the machine's at 127.0.0.1:6379. A test that
needs it is skipped, saying why, when it is unreachable, unless ``CI`` is set: in CI a
missing Redis fails these tests instead of letting them pass silently.
"""

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
async def redis_url() -> str:
    url = os.environ.get("PERFAPI_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    probe = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await probe.ping()
    except (RedisError, OSError) as exc:
        message = f"Redis is not reachable at {url} ({exc}); set PERFAPI_TEST_REDIS_URL"
        if _in_ci():
            pytest.fail(f"{message}. CI is set, so the Redis tests must run.", pytrace=False)
        pytest.skip(f"{message}, or set CI=true to make this a failure.")
    finally:
        await probe.aclose()
    return url


@dataclass(frozen=True)
class RedisSpace:
    """A test's own corner of the shared Redis: every key perfapi writes starts with
    ``prefix``; only those are read and removed, never anyone else's."""

    url: str
    prefix: str
    client: Redis

    async def keys(self) -> list[str]:
        return sorted([key.decode() async for key in self.client.scan_iter(self.prefix + "*")])


@pytest.fixture
async def redis_space(redis_url: str) -> AsyncIterator[RedisSpace]:
    client = Redis.from_url(redis_url)
    space = RedisSpace(redis_url, f"perfapi-test:{uuid.uuid4().hex}:", client)
    try:
        yield space
    finally:
        for key in await space.keys():
            await client.delete(key)
        await client.aclose()
