"""Helpers of the rate-limit tests: keys with their own limit, and the headers."""

import re
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.service import issue_key
from perfapi.auth.tokens import Scope
from tests.support import Tenant, assert_problem, bearer

REMAINING = re.compile(r'^"(?P<policy>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


async def make_key(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    limit: int | None,
    *scopes: Scope,
) -> dict[str, str]:
    """Headers of a new key of the tenant with this rate_limit_per_minute (None: the
    default), written straight to the database so that no request is counted."""
    async with sessionmaker() as session, session.begin():
        _, token = await issue_key(
            session, tenant.id, "limited", scopes or (Scope.READ,), rate_limit_per_minute=limit
        )
    return bearer(token)


def remaining(response: httpx.Response, policy: str) -> tuple[int, int]:
    """``(r, t)`` of the response's ``RateLimit`` header, checked to name ``policy``."""
    match = REMAINING.match(response.headers["ratelimit"])
    assert match is not None, response.headers["ratelimit"]
    assert match["policy"] == policy
    return int(match["r"]), int(match["t"])


def assert_policy(response: httpx.Response, policy: str, limit: int) -> None:
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={limit};w=60'


def assert_rate_limited(response: httpx.Response, policy: str, limit: int) -> dict[str, Any]:
    """A 429 problem with the headers: Retry-After (whole seconds, at least 1) agreeing
    with the ``t`` of ``RateLimit``, which says nothing is left."""
    # Webhook senders keep the receiver's type from before there were caller limits.
    slug = "too-many-requests" if policy == "source" else "rate-limited"
    body = assert_problem(response, 429, slug)
    assert_policy(response, policy, limit)
    r, t = remaining(response, policy)
    assert r == 0
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert int(retry_after) == t
    return body


def no_rate_limit_headers(response: httpx.Response) -> bool:
    return not {"ratelimit", "ratelimit-policy"} & set(response.headers)
