"""``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) on
every response to a counted request, errors and 429s included.

A pure ASGI middleware, as for ETags: routes that stream or build their own
responses (exports, the webhook receiver) would not carry headers set on an injected
``Response``, nor would errors raised after authentication.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfapi.ratelimits.enforce import Applied
from perfapi.ratelimits.gcra import WINDOW_SECONDS


def policy_value(applied: Applied) -> str:
    """``"key";q=3;w=60``: ``q`` requests every ``w`` seconds, under this policy name."""
    return f'"{applied.policy}";q={applied.limit};w={WINDOW_SECONDS}'


def remaining_value(applied: Applied) -> str | None:
    """``"key";r=2;t=20``: ``r`` requests left now; ``t`` seconds until one is allowed
    again (``r`` = 0) or until the whole allowance is back."""
    decision = applied.decision
    if decision is None:
        return None
    return f'"{applied.policy}";r={decision.remaining};t={decision.reset_seconds}'


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                applied = scope.get("state", {}).get("rate_limit")
                if isinstance(applied, Applied):
                    headers = MutableHeaders(scope=message)
                    headers["RateLimit-Policy"] = policy_value(applied)
                    if (remaining := remaining_value(applied)) is not None:
                        headers["RateLimit"] = remaining
            await send(message)

        await self.app(scope, receive, send_with_headers)
