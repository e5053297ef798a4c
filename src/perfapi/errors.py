"""Errors as RFC 9457 ``application/problem+json``.

Code raises :class:`ProblemError` subclasses; the handlers registered by
:func:`install_error_handlers` render every error path (ours, Starlette's and
FastAPI's) in one shape: ``type``, ``title``, ``status``, ``detail``,
``instance``, ``request_id`` and, for validation, ``errors``.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from perfapi.ops.context import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:perfapi:problem:"

SLUGS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: body, query, path, header.")
    message: str
    type: str = Field(description="A stable machine-readable code, e.g. 'missing'.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None


class ValidationProblem(Problem):
    errors: list[FieldError]
    errors_total: int | None = Field(
        default=None, description="Set when the errors list was cut short."
    )


class ProblemError(StarletteHTTPException):
    """Raise to answer with a problem. Subclasses fix the status and type."""

    status = 500
    slug: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(self.status, detail, headers)
        self.extra = extra or {}


class BadRequestError(ProblemError):
    status = 400


class UnauthorizedError(ProblemError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="perfapi"'})


class ForbiddenError(ProblemError):
    status = 403


class NotFoundError(ProblemError):
    status = 404


class ConflictError(ProblemError):
    status = 409


class ContentTooLargeError(ProblemError):
    status = 413


class UnsupportedMediaTypeError(ProblemError):
    status = 415


class ServiceUnavailableError(ProblemError):
    status = 503


class ValidationFailedError(ProblemError):
    """422 listing every problem found, optionally capped with the total given."""

    status = 422

    def __init__(
        self,
        errors: Sequence[FieldError],
        *,
        detail: str = "The request is invalid; see errors.",
        total: int | None = None,
    ) -> None:
        extra: dict[str, Any] = {"errors": [error.model_dump() for error in errors]}
        if total is not None and total > len(errors):
            extra["errors_total"] = total
        super().__init__(detail, extra=extra)

    @classmethod
    def single(cls, loc: Sequence[str | int], message: str, type_: str) -> "ValidationFailedError":
        return cls([FieldError(loc=list(loc), message=message, type=type_)], detail=message)


def problem_response(
    status: int,
    detail: str | None,
    *,
    instance: str | None = None,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    slug = slug or SLUGS.get(status, "error")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id_var.get(),
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    extra = exc.extra if isinstance(exc, ProblemError) else None
    slug = exc.slug if isinstance(exc, ProblemError) else None
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = exc.headers
    if not isinstance(exc, ProblemError):
        detail = _DEFAULT_DETAILS.get(exc.status_code, detail)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(
        exc.status_code,
        detail,
        instance=request.url.path,
        slug=slug,
        headers=headers,
        extra=extra,
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route fully matches on this path.

    Starlette's own ``Allow`` names only the first route matching the path, while
    one path often has several routes (list with GET, create with POST).
    """
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


_DEFAULT_DETAILS = {
    404: "No such resource.",
    405: "This method is not allowed on this resource; see the Allow header.",
}


def _field_errors(raw_errors: Sequence[Any]) -> list[FieldError]:
    errors = []
    for raw in raw_errors:
        message = str(raw.get("msg", "Invalid value."))
        message = message.removeprefix("Value error, ")
        errors.append(
            FieldError(loc=list(raw.get("loc", ())), message=message, type=raw.get("type", ""))
        )
    return errors


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw_errors = exc.errors()
    malformed = [e for e in raw_errors if e.get("type") == "json_invalid"]
    if malformed:
        reason = malformed[0].get("ctx", {}).get("error", "invalid JSON")
        position = malformed[0].get("loc", ("body", 0))[-1]
        return problem_response(
            400,
            f"The body is not valid JSON: {reason} at position {position}.",
            instance=request.url.path,
            slug="malformed-json",
        )
    errors = _field_errors(raw_errors)
    return problem_response(
        422,
        "The request is invalid; see errors.",
        instance=request.url.path,
        extra={"errors": [error.model_dump() for error in errors]},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
