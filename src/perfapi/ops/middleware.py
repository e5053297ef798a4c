"""Pure ASGI middleware: request context (id, access log, metrics, last-resort errors)
and request body limits. Pure ASGI rather than BaseHTTPMiddleware so that streamed
request and response bodies pass through untouched."""

import logging
import time
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfapi.db.availability import is_database_unavailable, is_serialization_failure
from perfapi.errors import ContentTooLargeError, problem_response
from perfapi.ops.context import accept_or_make_request_id, request_id_var
from perfapi.ops.metrics import HttpMetrics

access_log = logging.getLogger("perfapi.access")
error_log = logging.getLogger("perfapi.errors")

REQUEST_ID_HEADER = "x-request-id"


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths share one label so scanners cannot blow up the metric's cardinality.
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_or_make_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        started_at = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except ClientDisconnect:
            # The client went away mid-request: its transaction was rolled back and
            # there is nobody to answer. Logged as 499, nginx's code for this.
            status = 499
        except Exception as exc:
            # Our handlers answer every expected error; what reaches here is a bug or
            # an outage. The client gets a generic body, the log gets the traceback.
            unavailable = is_database_unavailable(exc)
            cancelled = is_serialization_failure(exc)
            error_log.exception(
                "database unavailable"
                if unavailable
                else "read cancelled by the database"
                if cancelled
                else "unhandled error",
                extra={"path": scope["path"], "method": scope["method"]},
            )
            if response_started:
                raise
            if cancelled:
                response = problem_response(
                    503,
                    "The database cancelled this read (a replica replaying changes it "
                    "conflicted with); retry.",
                    instance=scope["path"],
                    headers={"Retry-After": "1"},
                )
            elif unavailable:
                response = problem_response(
                    503,
                    "The database is unavailable; retry later.",
                    instance=scope["path"],
                    headers={"Retry-After": "5"},
                )
            else:
                response = problem_response(
                    500,
                    f"An internal error occurred; quote request id {request_id} when reporting it.",
                    instance=scope["path"],
                )
            await response(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started_at
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "route": route, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Answer 413 when a request body is larger than its path's limit.

    Checks ``Content-Length`` up front and counts streamed bytes as they arrive, so a
    chunked upload is cut off as soon as it passes the limit, not after it was buffered.
    """

    def __init__(
        self, app: ASGIApp, default_limit: int, prefix_limits: Sequence[tuple[str, int]]
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.prefix_limits = prefix_limits

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.prefix_limits:
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem_response(
                413,
                _too_large_detail(limit),
                instance=scope["path"],
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ContentTooLargeError(_too_large_detail(limit))
            return message

        await self.app(scope, receive_within_limit, send)


def _too_large_detail(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes for this endpoint."
