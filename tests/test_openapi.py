"""The OpenAPI document: committed, served, complete about errors, readable ids."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from perfapi.app import create_app
from perfapi.config import Settings

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    generated: dict[str, Any] = create_app(Settings()).openapi()
    return generated


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_committed_document_is_current(document: dict[str, Any]) -> None:
    assert json.loads(COMMITTED.read_text()) == document, "run `perfapi openapi`"


async def test_served_document_is_the_committed_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(COMMITTED.read_text())


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", operation_id), operation_id


def test_every_error_is_declared_as_a_problem(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "500" in responses, (path, method)
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), (path, method)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, status)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"Problem", "ValidationProblem", "FieldError"} <= set(schemas)


def test_secured_operations_name_their_scope(document: dict[str, Any]) -> None:
    secured = [op for _, _, op in _operations(document) if op.get("security")]
    assert secured
    for operation in secured:
        (requirement,) = operation["security"]
        assert requirement["apiKey"] in (["read"], ["write"], ["ingest"], ["admin"])
