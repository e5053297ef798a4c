"""Caching headers on reads: the tag of a 200, and ``Cache-Control`` on every /v1 GET.

A pure ASGI middleware, because exports stream their own responses: headers set
on a route's ``Response`` parameter would not reach them.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfapi.conditional.dependencies import CACHE_CONTROL, VARY

API_PREFIX = "/v1/"


class CachingHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                tag = scope.get("state", {}).get("etag")
                if message["status"] == 200 and isinstance(tag, str):
                    headers["ETag"] = tag
                # Every org's answers are private: no shared cache may keep them, and a
                # browser must revalidate (with the tag, when there is one) before reuse.
                headers.setdefault("Cache-Control", CACHE_CONTROL)
                headers.setdefault("Vary", VARY)
            await send(message)

        await self.app(scope, receive, send_with_headers)
