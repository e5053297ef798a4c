"""Route class that answers 415 when a JSON endpoint receives another media type.

FastAPI would otherwise try to validate the raw bytes and answer a confusing 422.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from perfapi.errors import UnsupportedMediaTypeError


def is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked_handler(request: Request) -> Response:
            if has_body(request) and not is_json_media_type(request.headers.get("content-type")):
                raise UnsupportedMediaTypeError(
                    "This endpoint accepts Content-Type: application/json only."
                )
            return await handler(request)

        return checked_handler
