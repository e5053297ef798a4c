"""The OpenAPI document: every error an operation can return, in problem+json.

Statuses that follow from an operation's shape are added here so no route can
forget them: a request body can be malformed (400), too large (413), of the
wrong media type (415) or invalid (422); parameters can be invalid (422); an
authenticated operation can answer 401, 403, 429 (over the caller's rate limit)
and, when the database is down, 503; a path with an id can answer 404; anything
can answer 500. Statuses that follow from a route's meaning (409, ...) are
declared on the route with :func:`problem_responses`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from perfapi.errors import PROBLEM_MEDIA_TYPE, FieldError, Problem, ValidationProblem

_SCHEMA_REF = "#/components/schemas/"
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _problem_content(schema_name: str) -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF + schema_name}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for statuses a route declares explicitly."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF + "Problem"}}},
        }
        for status in statuses
    }


def _implied_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    statuses = {500}
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}
    if "{" in path:
        statuses.add(404)
    return statuses


def _add_problem_schemas(schemas: dict[str, Any]) -> None:
    for model in (FieldError, Problem, ValidationProblem):
        model_schema = _model_schema(model)
        schemas[model.__name__] = model_schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_SCHEMA_REF + "{model}")
    schema.pop("$defs", None)
    return schema


def _describe_errors(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(_implied_statuses(path, operation)):
        responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    for status_text, response in responses.items():
        status = int(status_text) if status_text.isdigit() else 0
        if status >= 400:
            schema = "ValidationProblem" if status == 422 else "Problem"
            response["content"] = _problem_content(schema)
            if status == 422:
                response["description"] = "Validation failed; `errors` lists every problem."
            if status == 429:
                response["headers"] = _RATE_LIMIT_HEADERS
    operation["responses"] = dict(sorted(responses.items()))


_RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "Seconds until a request is allowed again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Policy": {
        "description": 'The limit, e.g. `"key";q=3;w=60`: 3 requests per 60 seconds.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left, e.g. `"key";r=0;t=20`: none, one again in 20 seconds.',
        "schema": {"type": "string"},
    },
}


_TAG_HEADERS = {
    "ETag": {
        "description": "The answer's entity tag: send it back in `If-None-Match`. Weak "
        "(`W/`) for answers as of now; absent when the answer changes with the clock.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "`private, no-cache`.", "schema": {"type": "string"}},
}


def _describe_conditional_get(operation: dict[str, Any]) -> None:
    """A read that takes ``If-None-Match`` answers 304 and tags its 200s."""
    names = {
        p.get("name", "").lower()
        for p in operation.get("parameters", [])
        if p.get("in") == "header"
    }
    if "if-none-match" not in names:
        return
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "200" in responses:
        responses["200"].setdefault("headers", {}).update(_TAG_HEADERS)
    responses["304"] = {
        "description": "Not Modified: the tag sent in `If-None-Match` is current. Empty body.",
        "headers": _TAG_HEADERS,
    }


@dataclass(frozen=True)
class DocumentedUnion:
    """A request body validated as one model but documented as a ``oneOf``.

    The model lists every problem with its plain ``loc``; the document tells a
    generated client which fields each value of ``discriminator`` needs.
    """

    schema: str
    discriminator: str
    variants: Mapping[str, type[BaseModel]]


def _document_union(schemas: dict[str, Any], union: DocumentedUnion) -> None:
    mapping = {}
    for tag, model in union.variants.items():
        schemas[model.__name__] = _model_schema(model)
        mapping[tag] = _SCHEMA_REF + model.__name__
    description = schemas.get(union.schema, {}).get("description")
    schemas[union.schema] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": union.discriminator, "mapping": mapping},
        "title": union.schema,
        **({"description": description} if description else {}),
    }


NO_NUL_PATTERN = r"^[^\x00]*$"
"""What :mod:`perfapi.kit.text` requires of every string, for strings whose schema
says nothing stricter: PostgreSQL cannot store NUL. (Unpaired surrogates cannot be
stated: a JSON Schema pattern sees code points, and JSON text allows them only as
escapes.)"""

_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_SUBSCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _refs(node: Any) -> set[str]:
    """Names of the components a schema refers to, directly."""
    if isinstance(node, dict):
        found = set()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            found.add(ref.removeprefix(_SCHEMA_REF))
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _closure(names: set[str], schemas: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        pending += _refs(schemas[name])
    return seen


def _forbid_nul(node: Any) -> None:
    """Give every plain string of a schema (no pattern, format, enum or const) the
    pattern that excludes NUL; components are reached through their own names."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = NO_NUL_PATTERN
    for key in ("properties", "patternProperties"):
        for child in node.get(key, {}).values():
            _forbid_nul(child)
    for key in _SUBSCHEMA_KEYS:
        _forbid_nul(node.get(key))
    for key in _SUBSCHEMA_LIST_KEYS:
        for child in node.get(key, []):
            _forbid_nul(child)


def _state_the_text_rule(document: dict[str, Any]) -> None:
    """Add :data:`NO_NUL_PATTERN` to the strings a client sends: parameters, request
    bodies and the components only they use (not those responses share)."""
    schemas = document["components"]["schemas"]
    inputs: list[Any] = []
    outputs: list[Any] = []
    for path_item in document["paths"].values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            inputs += [parameter.get("schema") for parameter in operation.get("parameters", [])]
            inputs += [
                media.get("schema")
                for media in operation.get("requestBody", {}).get("content", {}).values()
            ]
            outputs.append(operation.get("responses"))
    request_only = _closure(_refs(inputs), schemas) - _closure(_refs(outputs), schemas)
    for node in inputs:
        _forbid_nul(node)
    for name in request_only:
        _forbid_nul(schemas[name])


def build_openapi(app: FastAPI, unions: Sequence[DocumentedUnion] = ()) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    _add_problem_schemas(schemas)
    for union in unions:
        _document_union(schemas, union)
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            if method in _HTTP_METHODS:
                _describe_conditional_get(operation)
                _describe_errors(path, operation)
    _state_the_text_rule(schema)
    schema["components"]["schemas"] = dict(sorted(schema["components"]["schemas"].items()))
    return schema


def install_openapi(app: FastAPI, unions: Sequence[DocumentedUnion] = ()) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, unions)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
