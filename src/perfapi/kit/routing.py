"""Route class for JSON endpoints: 415 for another media type, 422 for unstorable text.

FastAPI would otherwise try to validate the raw bytes and answer a confusing 422,
and pass strings PostgreSQL cannot store (NUL, lone surrogates) on to the database.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from perfapi.errors import FieldError, UnsupportedMediaTypeError, ValidationFailedError
from perfapi.kit.text import UNSTORABLE_TYPE, unstorable_strings


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
            if has_body(request):
                if not is_json_media_type(request.headers.get("content-type")):
                    raise UnsupportedMediaTypeError(
                        "This endpoint accepts Content-Type: application/json only."
                    )
                await _reject_unstorable_text(request)
            return await handler(request)

        return checked_handler


async def _reject_unstorable_text(request: Request) -> None:
    """422 naming every string of the body PostgreSQL could not store.

    ``request.json()`` caches the parsed body, so FastAPI's own validation reuses
    it; a body that is not JSON is left to FastAPI's 400.
    """
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return
    try:
        errors = [
            FieldError(loc=list(loc), message=message, type=UNSTORABLE_TYPE)
            for loc, message in unstorable_strings(body, ("body",))
        ]
    except RecursionError:
        raise ValidationFailedError.single(
            ("body",), "The body is nested too deeply.", "too_deep"
        ) from None
    if errors:
        raise ValidationFailedError(errors, detail="The body holds text that cannot be stored.")
