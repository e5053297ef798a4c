"""Counting a request against its caller's limit, once, and refusing it when over.

API callers are counted at the end of authentication (``current_principal``), webhook
senders per source by the receiver once the signature is checked. Either way one
request takes one token, whatever it carries (one point or a million), and the
outcome is left on ``request.state`` for :mod:`perfapi.ratelimits.headers`.
"""

from dataclasses import dataclass

from fastapi import Request

from perfapi.auth.service import Principal
from perfapi.errors import ProblemError
from perfapi.ratelimits.gcra import Decision
from perfapi.ratelimits.limiter import Limiter

DEFAULT_POLICY = "default"
KEY_POLICY = "key"
SOURCE_POLICY = "source"


@dataclass(frozen=True)
class Applied:
    """The policy a request was counted under, and the outcome (None: unchecked)."""

    policy: str
    limit: int
    decision: Decision | None

    @property
    def refused(self) -> bool:
        return self.decision is not None and not self.decision.allowed


class RateLimitedError(ProblemError):
    status = 429
    slug = "rate-limited"


async def count_request(request: Request, key: str, limit: int, policy: str) -> Applied:
    """Take one token for ``key``; a request already counted is not counted again (a
    route may depend on authentication under several scopes)."""
    counted = getattr(request.state, "rate_limit", None)
    if isinstance(counted, Applied):
        return counted
    limiter: Limiter = request.app.state.rate_limiter
    applied = Applied(policy, limit, await limiter.take(key, limit))
    request.state.rate_limit = applied
    return applied


def retry_after(applied: Applied) -> dict[str, str]:
    assert applied.decision is not None
    return {"Retry-After": str(applied.decision.retry_after_seconds)}


async def enforce_rate_limit(request: Request, principal: Principal) -> None:
    """429 when the caller is over its own limit, or over the server's default."""
    own = principal.rate_limit_per_minute
    if own is not None:
        policy, limit = KEY_POLICY, own
    else:
        policy, limit = DEFAULT_POLICY, request.app.state.settings.rate_limit_per_minute
    # org first: a JWT subject is only unique within its identity provider.
    caller = f"caller:{principal.org_id}:{principal.actor.type}:{principal.actor.id}"
    applied = await count_request(request, caller, limit, policy)
    if applied.refused:
        headers = retry_after(applied)
        raise RateLimitedError(
            f"Over the rate limit of {limit} requests a minute; retry in "
            f"{headers['Retry-After']} seconds.",
            headers=headers,
        )
