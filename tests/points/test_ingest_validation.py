"""Bad points in JSON and NDJSON bodies: one 422 listing each of them, and nothing stored."""

from typing import Any

import httpx
import msgspec
import pytest

from tests.points.helpers import (
    NDJSON,
    assert_no_points,
    create_kpi,
    list_points,
    ndjson,
    point,
    post_body,
    post_json,
    post_points,
    ts,
)
from tests.support import Tenant, assert_problem, error_locs

KPI = "sales.mrr"
GOOD = point(KPI, 0, 1.0)


def bad(**fields: Any) -> dict[str, Any]:
    """A point at minute 1 with some fields replaced (None removes the field)."""
    made: dict[str, Any] = {"kpi": KPI, "ts": ts(1), "value": 2.0, **fields}
    return {name: value for name, value in made.items() if value is not None}


BAD_POINTS = [
    pytest.param(bad(kpi="sales.unknown"), "kpi", id="unknown-kpi"),
    pytest.param(bad(kpi="SALES.MRR"), "kpi", id="kpi-key-is-case-sensitive"),
    pytest.param({"ts": ts(1), "value": 1.0}, "kpi", id="missing-kpi"),
    pytest.param(bad(kpi=7), "kpi", id="kpi-not-a-string"),
    pytest.param(bad(ts="2026-01-01T00:00:00"), "ts", id="ts-without-offset"),
    pytest.param(bad(ts="2026-01-01"), "ts", id="ts-date-only"),
    pytest.param(bad(ts="yesterday"), "ts", id="ts-unparseable"),
    pytest.param(bad(ts="2026-13-01T00:00:00Z"), "ts", id="ts-month-13"),
    pytest.param(bad(ts="2026-01-01T00:00:00+25:00"), "ts", id="ts-offset-out-of-range"),
    pytest.param(bad(ts=1767225600), "ts", id="ts-epoch-number"),
    pytest.param({"kpi": KPI, "value": 1.0}, "ts", id="missing-ts"),
    pytest.param(bad(value="12"), "value", id="value-numeric-string"),
    pytest.param(bad(value="NaN"), "value", id="value-nan-string"),
    pytest.param(bad(value="Infinity"), "value", id="value-infinity-string"),
    pytest.param(bad(value=True), "value", id="value-boolean"),
    pytest.param(bad(value=[1]), "value", id="value-list"),
    pytest.param({"kpi": KPI, "ts": ts(1)}, "value", id="missing-value"),
    pytest.param(bad(dimensions={"bad name": "x"}), "dimensions", id="dim-name-space"),
    pytest.param(bad(dimensions={"": "x"}), "dimensions", id="dim-name-empty"),
    pytest.param(bad(dimensions={"x" * 65: "v"}), "dimensions", id="dim-name-too-long"),
    pytest.param(bad(dimensions={"team": ""}), "dimensions", id="dim-value-empty"),
    pytest.param(bad(dimensions={"team": "x" * 201}), "dimensions", id="dim-value-too-long"),
    pytest.param(bad(dimensions={"team": 5}), "dimensions", id="dim-value-number"),
    pytest.param(bad(dimensions={"team": None}), "dimensions", id="dim-value-null"),
    pytest.param(bad(dimensions={"team": ["a"]}), "dimensions", id="dim-value-list"),
    pytest.param(bad(dimensions={"team": {"a": "b"}}), "dimensions", id="dim-value-object"),
    pytest.param(bad(dimensions=["team"]), "dimensions", id="dims-a-list"),
    pytest.param(bad(dimensions="team=emea"), "dimensions", id="dims-a-string"),
    pytest.param(
        bad(dimensions={f"d{i}": "x" for i in range(17)}), "dimensions", id="17-dimensions"
    ),
]


def loc_of(fmt: str, position: int) -> list[str | int]:
    return ["body", "points", position] if fmt == "json" else ["body", "line", position]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize(("bad_point", "field"), BAD_POINTS)
async def test_bad_point_is_422_naming_it_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str, bad_point: dict[str, Any], field: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_points(client, tenant, fmt, [GOOD, bad_point, point(KPI, 2, 3.0)])
    body = assert_problem(response, 422, "validation-error")
    # The good points are at index 0 / line 1 and index 2 / line 3; the bad one between.
    position = 1 if fmt == "json" else 2
    assert error_locs(body) == [[*loc_of(fmt, position), field]]
    assert body["errors"][0]["message"]
    assert "errors_total" not in body
    await assert_no_points(client, tenant, kpi_id)


async def test_boundary_dimensions_are_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """The limits are inclusive: 16 dimensions, 64-character names, 200-character values."""
    kpi_id = await create_kpi(client, tenant, KPI)
    dims = {f"d{i}": "v" for i in range(15)} | {"n" * 64: "x" * 200}
    response = await post_json(client, tenant, [{**GOOD, "dimensions": dims}])
    assert response.status_code == 200, response.text
    assert (await list_points(client, tenant, kpi_id))[0]["dimensions"] == dims


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_every_bad_point_and_field_is_listed(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [
        GOOD,
        bad(ts="2026-01-01T00:00:00"),
        point(KPI, 2, 3.0),
        bad(kpi="nope", value="x", dimensions={"team": ""}),
        bad(ts="soon", value=None),
    ]
    body = assert_problem(await post_points(client, tenant, fmt, sent), 422)
    first = 0 if fmt == "json" else 1
    assert error_locs(body) == [
        [*loc_of(fmt, first + 1), "ts"],
        [*loc_of(fmt, first + 3), "kpi"],
        [*loc_of(fmt, first + 3), "value"],
        [*loc_of(fmt, first + 3), "dimensions"],
        [*loc_of(fmt, first + 4), "ts"],
        [*loc_of(fmt, first + 4), "value"],
    ]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize(
    "item",
    [
        pytest.param({**GOOD, "colour": "red"}, id="unknown-field"),
        pytest.param(5, id="a-number"),
        pytest.param([GOOD], id="a-list"),
        pytest.param("point", id="a-string"),
        pytest.param(None, id="null"),
    ],
)
async def test_item_that_is_not_a_point_object(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str, item: object
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_points(client, tenant, fmt, [GOOD, item])  # type: ignore[list-item]
    body = assert_problem(response, 422)
    assert error_locs(body) == [loc_of(fmt, 1 if fmt == "json" else 2)]
    await assert_no_points(client, tenant, kpi_id)


async def test_ndjson_line_that_is_not_json(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = ndjson([GOOD]) + b"\n" + b'{"kpi": "sales.mrr", "ts": \n' + ndjson([point(KPI, 2, 3)])
    response = await post_body(client, tenant, body, NDJSON)
    problem = assert_problem(response, 422)
    assert error_locs(problem) == [["body", "line", 3]]  # the blank line 2 still counts
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param(b"[]", ["body", "points"], id="a-list"),
        pytest.param(b'"points"', ["body", "points"], id="a-string"),
        pytest.param(b"{}", ["body", "points"], id="no-points"),
        pytest.param(b'{"point": []}', ["body", "points"], id="misspelt"),
        pytest.param(b'{"points": {}}', ["body", "points"], id="points-an-object"),
        pytest.param(b'{"points": null}', ["body", "points"], id="points-null"),
        pytest.param(b'{"points": [], "kpi": "x"}', ["body"], id="extra-member"),
    ],
)
async def test_body_that_is_not_points_list_is_422(
    client: httpx.AsyncClient, tenant: Tenant, body: bytes, loc: list[str]
) -> None:
    response = await post_body(client, tenant, body, "application/json")
    assert error_locs(assert_problem(response, 422)) == [loc]


@pytest.mark.parametrize(
    "body", [b'{"points": [', b"{points: []}", b"", b'{"points": []} x', b"\xff\xfe"]
)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, tenant: Tenant, body: bytes
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_body(client, tenant, body, "application/json")
    assert_problem(response, 400, "malformed-json")
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
async def test_unsupported_content_type_is_415(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_body(client, tenant, ndjson([GOOD]), content_type)
    assert_problem(response, 415, "unsupported-media-type")
    await assert_no_points(client, tenant, kpi_id)


async def test_missing_content_type_is_415(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await client.post("/v1/points", headers=tenant.headers, content=ndjson([GOOD]))
    assert_problem(response, 415)
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
async def test_150_bad_points_list_100_with_errors_total(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [GOOD] + [point("sales.nope", minute, 1.0) for minute in range(1, 151)]
    body = assert_problem(await post_points(client, tenant, fmt, sent), 422)
    assert len(body["errors"]) == 100
    assert body["errors_total"] == 150
    first = {"json": 1, "ndjson": 2, "csv": 3}[fmt]  # CSV: line 1 is the header
    prefix = ["body", "points"] if fmt == "json" else ["body", "line"]
    assert error_locs(body) == [[*prefix, first + n, "kpi"] for n in range(100)]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
async def test_duplicate_with_another_value_names_both_positions(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [
        point(KPI, 0, 1.0, team="emea"),
        point(KPI, 1, 1.0),
        point(KPI, 0, 1.0, team="apac"),  # another point
        point(KPI, 0, 2.0, team="emea"),  # same as the first, other value
    ]
    body = assert_problem(await post_points(client, tenant, fmt, sent), 422)
    first, second = {"json": (0, 3), "ndjson": (1, 4), "csv": (2, 5)}[fmt]
    prefix = ["body", "points"] if fmt == "json" else ["body", "line"]
    assert error_locs(body) == [[*prefix, second]]
    assert f"as {first} " in body["errors"][0]["message"]
    assert body["errors"][0]["type"] == "duplicate_point"
    await assert_no_points(client, tenant, kpi_id)


async def test_duplicate_written_with_another_offset_is_found(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    utc = {"kpi": KPI, "ts": "2026-01-01T00:00:00Z", "value": 1, "dimensions": {"a": "1", "b": "2"}}
    shifted = {
        **utc,
        "ts": "2026-01-01T01:00:00+01:00",
        "value": 2,
        "dimensions": {"b": "2", "a": "1"},
    }
    sent = [utc, shifted]
    body = assert_problem(await post_json(client, tenant, sent), 422)
    assert error_locs(body) == [["body", "points", 1]]
    await assert_no_points(client, tenant, kpi_id)


async def test_duplicates_are_listed_with_other_problems(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [GOOD, bad(value="x"), {**GOOD, "value": 9.0}]
    body = assert_problem(await post_json(client, tenant, sent), 422)
    assert sorted(map(str, error_locs(body))) == sorted(
        map(str, [["body", "points", 1, "value"], ["body", "points", 2]])
    )
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
async def test_one_bad_point_among_updates_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    original = [point(KPI, minute, 1.0) for minute in range(5)]
    assert (await post_points(client, tenant, fmt, original)).status_code == 200
    updates = [point(KPI, minute, 2.0) for minute in range(10)]  # 5 updates, 5 new points
    updates.insert(7, point(KPI, 20, 1.0) | {"ts": "2026-02-30T00:00:00Z"})
    assert_problem(await post_points(client, tenant, fmt, updates), 422)
    stored = await list_points(client, tenant, kpi_id)
    assert [(item["ts"], item["value"]) for item in stored] == [
        (ts(minute), 1.0) for minute in range(5)
    ]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_infinite_value_is_a_bad_point(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    """1e999 is valid JSON syntax for a number too large for a double: an infinite value."""
    kpi_id = await create_kpi(client, tenant, KPI)
    good = msgspec.json.encode(GOOD).decode()
    infinite = f'{{"kpi": "{KPI}", "ts": "{ts(1)}", "value": -1e999}}'
    if fmt == "json":
        response = await post_body(
            client, tenant, f'{{"points": [{good}, {infinite}]}}', "application/json"
        )
    else:
        response = await post_body(client, tenant, f"{good}\n{infinite}\n", NDJSON)
    body = assert_problem(response, 422)
    assert [loc[:3] for loc in error_locs(body)] == [loc_of(fmt, 1 if fmt == "json" else 2)]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("ts", "9999-12-31T23:00:00-05:00", id="ts-after-year-9999-in-utc"),
        pytest.param("ts", "0001-01-01T00:30:00+01:00", id="ts-before-year-1-in-utc"),
        pytest.param("dimensions", {"team": "em\u0000ea"}, id="dim-value-with-nul"),
    ],
)
async def test_unstorable_point_is_422_never_500(
    client: httpx.AsyncClient, tenant: Tenant, field: str, value: object
) -> None:
    """A point PostgreSQL cannot store is a bad point like any other, not a server error."""
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_json(client, tenant, [GOOD, bad(**{field: value})])
    body = assert_problem(response, 422)
    assert error_locs(body) == [["body", "points", 1, field]]
    await assert_no_points(client, tenant, kpi_id)
