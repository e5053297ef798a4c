"""What a client sends is checked before anything is stored: text PostgreSQL cannot
hold (NUL, lone surrogates) in any location, strict JSON types, bounded numbers and
non-blank text. Every case is a 422 naming its ``loc`` and writes nothing."""

import json
import re
from typing import Any

import httpx
import pytest

from tests.support import Tenant, assert_problem, created, error_locs, one_of_each

OBJECTIVE = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}
KPI = {"key": "sales.arr", "name": "ARR"}


async def post_raw(
    client: httpx.AsyncClient, tenant: Tenant, path: str, raw: str
) -> httpx.Response:
    """POST a JSON text as written: the only way to send a lone surrogate escape."""
    headers = {**tenant.headers, "Content-Type": "application/json"}
    return await client.post(path, headers=headers, content=raw.encode())


@pytest.mark.parametrize(
    ("path", "raw", "loc"),
    [
        ("/v1/kpis", '{"key": "a", "name": "A\\u0000B"}', ["body", "name"]),
        ("/v1/kpis", '{"key": "a", "name": "A\\ud800B"}', ["body", "name"]),
        ("/v1/kpis", '{"key": "a", "name": "A", "tags": ["ok", "x\\udfffy"]}', ["body", "tags", 1]),
        (
            "/v1/objectives",
            json.dumps({**OBJECTIVE, "description": "a\x00b"}),
            ["body", "description"],
        ),
        ("/v1/api-keys", '{"name": "ci\\u0000", "scopes": ["read"]}', ["body", "name"]),
        (
            "/v1/webhook-sources",
            '{"name": "crm", "scheme": "standard", "mappings": [{"kpi": "\'a\'", "ts": "t", '
            '"value": "v", "dimensions": {"re\\u0000gion": "r"}}]}',
            ["body", "mappings", 0, "dimensions", "re\\x00gion"],
        ),
    ],
)
async def test_unstorable_text_in_a_body_is_422_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, path: str, raw: str, loc: list[Any]
) -> None:
    body = assert_problem(await post_raw(client, tenant, path, raw), 422, "validation-error")
    assert loc in error_locs(body)
    assert all(error["type"] == "unstorable_text" for error in body["errors"])
    listed = await client.get(path, headers=tenant.headers)
    assert listed.status_code == 200
    # Only the tenant's own admin key exists; nothing else was written.
    assert len(listed.json()["items"]) == (1 if path == "/v1/api-keys" else 0)


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/v1/kpis?tag=a%00b", ["query", "tag"]),
        ("/v1/objectives?team=a%00b", ["query", "team"]),
        ("/v1/objectives?owner=x&team=ok&owner=a%00", ["query", "owner"]),
        ("/v1/kpis/a%00b", ["path"]),
        ("/v1/reports/goal-achievement?team=%00", ["query", "team"]),
    ],
)
async def test_nul_in_a_query_or_path_is_422_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, url: str, loc: list[str]
) -> None:
    body = assert_problem(await client.get(url, headers=tenant.headers), 422, "validation-error")
    assert error_locs(body) == [loc]
    assert "\x00" not in body["instance"]


async def test_nul_in_a_header_is_422_naming_it(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "key\x00one"}
    response = await client.post(
        "/v1/points", headers=headers, json={"points": []}, params={"x": "1"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["header", "idempotency-key"]]


async def test_unstorable_text_in_points_is_a_per_point_error(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await created(client, tenant, "/v1/kpis", KPI)
    raw = (
        '{"points": [{"kpi": "sales.arr", "ts": "2026-01-01T00:00:00Z", "value": 1, '
        '"dimensions": {"region": "e\\ud800u"}}, {"kpi": "sales\\u0000arr", '
        '"ts": "2026-01-01T00:00:00Z", "value": 1}]}'
    )
    body = assert_problem(await post_raw(client, tenant, "/v1/points", raw), 422)
    assert error_locs(body) == [["body", "points", 0, "dimensions"], ["body", "points", 1, "kpi"]]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "/v1/kpis/{kpi}/targets",
            {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": True},
            ["body", "value"],
        ),
        (
            "/v1/kpis/{kpi}/targets",
            {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": "10"},
            ["body", "value"],
        ),
        (
            "/v1/kpis/{kpi}/targets",
            {"period_start": 0, "period_end": "2026-12-31", "value": 1},
            ["body", "period_start"],
        ),
        (
            "/v1/kpis/{kpi}/targets",
            {"period_start": "1700000000", "period_end": "2026-12-31", "value": 1},
            ["body", "period_start"],
        ),
        ("/v1/objectives", {**OBJECTIVE, "weight": True}, ["body", "weight"]),
        ("/v1/objectives", {**OBJECTIVE, "due_date": 20261231}, ["body", "due_date"]),
        (
            "/v1/api-keys",
            {"name": "k", "scopes": ["read"], "expires_at": 0},
            ["body", "expires_at"],
        ),
        (
            "/v1/api-keys",
            {"name": "k", "scopes": ["read"], "expires_at": "1700000000"},
            ["body", "expires_at"],
        ),
        ("/v1/key-results/{kr}/check-ins", {"value": False}, ["body", "value"]),
        (
            "/v1/key-results/{kr}/check-ins",
            {"value": 1, "confidence": "0.5"},
            ["body", "confidence"],
        ),
        ("/v1/key-results/{kr}/check-ins", {"value": 1, "at": 1767225600}, ["body", "at"]),
    ],
)
async def test_json_types_are_strict(
    client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, Any], loc: list[str]
) -> None:
    ids = await _resources(client, tenant)
    response = await client.post(path.format(**ids), headers=tenant.headers, json=body)
    assert error_locs(assert_problem(response, 422, "validation-error")) == [loc]


@pytest.mark.parametrize("value", [1e15 * 1.0000001, -1.5e15, 1e308, 10**400])
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        (
            "/v1/kpis/{kpi}/targets",
            "value",
            {"period_start": "2026-01-01", "period_end": "2026-12-31"},
        ),
        ("/v1/key-results/{kr}/check-ins", "value", {}),
        (
            "/v1/objectives/{objective}/key-results",
            "target_value",
            {"title": "T", "direction": "at_least"},
        ),
        (
            "/v1/objectives/{objective}/key-results",
            "range_max",
            {"title": "T", "direction": "within", "range_min": 0},
        ),
    ],
)
async def test_numbers_beyond_1e15_are_422(
    client: httpx.AsyncClient,
    tenant: Tenant,
    path: str,
    field: str,
    body: dict[str, Any],
    value: float,
) -> None:
    ids = await _resources(client, tenant)
    raw = json.dumps(body)[:-1] + (", " if body else "") + f'"{field}": {value!r}}}'
    response = await post_raw(client, tenant, path.format(**ids), raw)
    assert error_locs(assert_problem(response, 422, "validation-error")) == [["body", field]]


async def test_the_bounds_themselves_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids = await _resources(client, tenant)
    for value in (1e15, -1e15):
        response = await client.post(
            f"/v1/key-results/{ids['kr']}/check-ins", headers=tenant.headers, json={"value": value}
        )
        assert response.status_code == 201, response.text
        assert response.json()["value"] == value


@pytest.mark.parametrize("point_value", ["1e16", "-1e16", "1e308"])
async def test_point_values_beyond_1e15_are_per_point_errors_in_every_format(
    client: httpx.AsyncClient, tenant: Tenant, point_value: str
) -> None:
    await created(client, tenant, "/v1/kpis", KPI)
    ts = "2026-01-01T00:00:00Z"
    bodies = {
        "application/json": f'{{"points": [{{"kpi": "sales.arr", "ts": "{ts}", "value": 1}}, '
        f'{{"kpi": "sales.arr", "ts": "{ts}", "value": {point_value}}}]}}',
        "application/x-ndjson": f'{{"kpi": "sales.arr", "ts": "{ts}", "value": 1}}\n'
        f'{{"kpi": "sales.arr", "ts": "{ts}", "value": {point_value}}}\n',
        "text/csv": f"kpi,ts,value\nsales.arr,{ts},1\nsales.arr,{ts},{point_value}\n",
    }
    for media_type, raw in bodies.items():
        headers = {**tenant.headers, "Content-Type": media_type}
        response = await client.post("/v1/points", headers=headers, content=raw.encode())
        body = assert_problem(response, 422)
        assert [error["loc"][-1] for error in body["errors"]] == ["value"], media_type
        assert "1e15" in body["errors"][0]["message"]
    points = await client.get(
        f"/v1/kpis/{(await _kpi(client, tenant))}/points", headers=tenant.headers
    )
    assert points.json()["items"] == []


@pytest.mark.parametrize("blank", ["\f", " \t ", "\u3000", "\ufeff", "\x1c", "\x85"])
async def test_blank_text_is_422_by_the_same_rule_the_document_states(
    client: httpx.AsyncClient, tenant: Tenant, blank: str
) -> None:
    response = await client.post("/v1/kpis", headers=tenant.headers, json={**KPI, "name": blank})
    assert error_locs(assert_problem(response, 422)) == [["body", "name"]]
    document = (await client.get("/openapi.json")).json()
    pattern = document["components"]["schemas"]["KpiCreate"]["properties"]["name"]["pattern"]
    assert re.search(pattern, blank) is None
    assert re.search(pattern, f"{blank}x{blank}") is not None


async def test_text_is_stored_trimmed(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/kpis", headers=tenant.headers, json={**KPI, "name": "\ufeff ARR\u3000"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "ARR"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/objectives/{objective}", "title"),
        ("/v1/objectives/{objective}", "due_date"),
        ("/v1/kpis/{kpi}", "name"),
        ("/v1/key-results/{kr}", "direction"),
    ],
)
async def test_patch_fields_the_document_says_are_not_nullable_refuse_null(
    client: httpx.AsyncClient, tenant: Tenant, path: str, field: str
) -> None:
    ids = await _resources(client, tenant)
    response = await client.patch(path.format(**ids), headers=tenant.headers, json={field: None})
    assert error_locs(assert_problem(response, 422)) == [["body", field]]
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][
        path.replace("{objective}", "{objective_id}")
        .replace("{kpi}", "{kpi_id}")
        .replace("{kr}", "{key_result_id}")
    ]["patch"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"][field]
    assert "null" not in json.dumps(schema)


async def _resources(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    ids = await one_of_each(client, tenant)
    return {**ids, "kr": ids["key_result"]}


async def _kpi(client: httpx.AsyncClient, tenant: Tenant) -> str:
    listed = await client.get("/v1/kpis", headers=tenant.headers)
    kpi_id: str = listed.json()["items"][0]["id"]
    return kpi_id
