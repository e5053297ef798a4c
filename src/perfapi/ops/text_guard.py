"""Rejects a request whose path, query or headers hold text PostgreSQL cannot store.

Pure ASGI, ahead of routing, so no endpoint, dependency or query ever sees such
a string. Bodies are checked where they are parsed (see :mod:`perfapi.kit.text`).
"""

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from perfapi.errors import FieldError, problem_response
from perfapi.kit.text import NUL_MESSAGE, UNSTORABLE_TYPE, Loc, printable, text_problem


class TextGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = list(_problems(scope))
        if not errors:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            422,
            f"The request {errors[0].loc[0]} holds text that cannot be stored; see errors.",
            instance=printable(scope["path"]),
            extra={"errors": [error.model_dump() for error in errors]},
        )
        await response(scope, receive, send)


def _problems(scope: Scope) -> list[FieldError]:
    problems: list[tuple[Loc, str]] = []
    path_problem = text_problem(scope["path"])
    if path_problem is not None:
        problems.append((("path",), path_problem))
    if scope.get("query_string"):
        for name, value in QueryParams(scope["query_string"]).multi_items():
            problem = text_problem(name) or text_problem(value)
            if problem is not None:
                problems.append((("query", printable(name)), problem))
    for raw_name, raw_value in scope.get("headers", ()):
        # Headers arrive as bytes: only NUL can be wrong there (RFC 9110 forbids it).
        if b"\x00" in raw_value or b"\x00" in raw_name:
            problems.append((("header", printable(raw_name.decode("latin-1"))), NUL_MESSAGE))
    return [
        FieldError(loc=list(loc), message=message, type=UNSTORABLE_TYPE)
        for loc, message in problems
    ]
