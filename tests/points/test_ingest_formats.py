"""POST /v1/points in JSON, NDJSON and CSV: what is stored and the true counts."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.points.helpers import (
    CSV,
    FORMATS,
    NDJSON,
    by_time,
    counts,
    create_kpi,
    list_points,
    ndjson,
    point,
    post_body,
    post_json,
    post_points,
    result,
    ts,
)
from tests.support import Tenant


@pytest.mark.parametrize("fmt", FORMATS)
async def test_new_points_are_inserted_and_listed(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    sent = [
        point("sales.mrr", 2, 3.25),
        point("sales.mrr", 0, 1.5, team="emea"),
        point("sales.mrr", 1, -2.0, team="apac", region="north"),
    ]
    response = await post_points(client, tenant, fmt, sent)
    assert counts(response) == result(3, 3, 0, 0)
    stored = await list_points(client, tenant, kpi_id)
    assert [(item["ts"], item["value"], item["dimensions"]) for item in stored] == [
        (ts(0), 1.5, {"team": "emea"}),
        (ts(1), -2.0, {"team": "apac", "region": "north"}),
        (ts(2), 3.25, {}),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_resent_points_count_as_unchanged_or_updated(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    first = [point("sales.mrr", 0, 1.0), point("sales.mrr", 1, 2.0, team="emea")]
    assert counts(await post_points(client, tenant, fmt, first)) == result(2, 2, 0, 0)

    again = await post_points(client, tenant, fmt, first)
    assert counts(again) == result(2, 0, 0, 2)

    changed = [
        point("sales.mrr", 0, 1.0),  # same value
        point("sales.mrr", 1, 20.0, team="emea"),  # new value
        point("sales.mrr", 2, 3.0),  # new point
    ]
    assert counts(await post_points(client, tenant, fmt, changed)) == result(3, 1, 1, 1)
    stored = await list_points(client, tenant, kpi_id)
    assert [(item["ts"], item["value"]) for item in stored] == [
        (ts(0), 1.0),
        (ts(1), 20.0),
        (ts(2), 3.0),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_same_ts_with_other_dimensions_is_another_point(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    sent = [
        point("sales.mrr", 0, 1.0),
        point("sales.mrr", 0, 2.0, team="emea"),
        point("sales.mrr", 0, 3.0, team="apac"),
        point("sales.mrr", 0, 4.0, team="emea", region="north"),
    ]
    assert counts(await post_points(client, tenant, fmt, sent)) == result(4, 4, 0, 0)
    stored = await list_points(client, tenant, kpi_id)
    assert sorted((item["value"], item["dimensions"]) for item in stored) == [
        (1.0, {}),
        (2.0, {"team": "emea"}),
        (3.0, {"team": "apac"}),
        (4.0, {"team": "emea", "region": "north"}),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_exact_repeats_in_one_request_count_once(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    same = point("sales.mrr", 0, 7.0, team="emea", region="north")
    other_offset = {**same, "ts": "2026-01-01T02:00:00+02:00"}  # the same instant
    response = await post_points(client, tenant, fmt, [same, same, other_offset])
    assert counts(response) == result(3, 1, 0, 2)
    stored = await list_points(client, tenant, kpi_id)
    assert len(stored) == 1
    assert stored[0]["value"] == 7.0


async def test_dimension_order_does_not_matter(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    forward = {"kpi": "sales.mrr", "ts": ts(0), "value": 1.0, "dimensions": {"a": "1", "b": "2"}}
    backward = {**forward, "dimensions": {"b": "2", "a": "1"}}
    assert counts(await post_json(client, tenant, [forward, backward])) == result(2, 1, 0, 1)
    assert counts(await post_json(client, tenant, [{**backward, "value": 2.0}])) == result(
        1, 0, 1, 0
    )
    stored = await list_points(client, tenant, kpi_id)
    assert [(item["value"], item["dimensions"]) for item in stored] == [(2.0, {"a": "1", "b": "2"})]


async def test_no_empty_and_null_dimensions_are_one_point(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    bare = {"kpi": "sales.mrr", "ts": ts(0), "value": 1.0}
    assert counts(await post_json(client, tenant, [bare])) == result(1, 1, 0, 0)
    variants = [{**bare, "dimensions": {}}, {**bare, "dimensions": None}]
    assert counts(await post_json(client, tenant, variants)) == result(2, 0, 0, 2)
    csv_body = f"kpi,ts,value,dim.team\nsales.mrr,{ts(0)},1.0,\n"
    assert counts(await post_body(client, tenant, csv_body, CSV)) == result(1, 0, 0, 1)
    assert len(await list_points(client, tenant, kpi_id)) == 1


@pytest.mark.parametrize("fmt", FORMATS)
async def test_points_of_several_kpis_in_one_request(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    mrr = await create_kpi(client, tenant, "sales.mrr")
    churn = await create_kpi(client, tenant, "sales.churn")
    sent = [point("sales.mrr", 0, 1.0), point("sales.churn", 0, 0.5), point("sales.mrr", 1, 2.0)]
    assert counts(await post_points(client, tenant, fmt, sent)) == result(3, 3, 0, 0)
    assert [item["value"] for item in await list_points(client, tenant, mrr)] == [1.0, 2.0]
    assert [item["value"] for item in await list_points(client, tenant, churn)] == [0.5]


async def test_offsets_are_kept_as_instants(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    sent: list[dict[str, Any]] = [
        {"kpi": "sales.mrr", "ts": "2026-03-01T09:30:00+05:30", "value": 1},
        {"kpi": "sales.mrr", "ts": "2026-03-01T04:00:00.250Z", "value": 2},
    ]
    assert counts(await post_json(client, tenant, sent)) == result(2, 2, 0, 0)
    stored = by_time(await list_points(client, tenant, kpi_id))
    assert stored == {
        (datetime(2026, 3, 1, 4, 0, tzinfo=UTC), "{}"): 1.0,
        (datetime(2026, 3, 1, 4, 0, 0, 250000, tzinfo=UTC), "{}"): 2.0,
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"points": []}', "application/json"),
        (b"", NDJSON),
        (b"\n\n  \n", NDJSON),
        (b"kpi,ts,value\n", CSV),
        (b"kpi,ts,value,dim.team", CSV),
    ],
)
async def test_no_points_give_zero_counts(
    client: httpx.AsyncClient, tenant: Tenant, body: bytes, content_type: str
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    response = await post_body(client, tenant, body, content_type)
    assert counts(response) == result(0, 0, 0, 0)
    assert await list_points(client, tenant, kpi_id) == []


async def test_json_content_type_with_charset(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_kpi(client, tenant, "sales.mrr")
    body = b'{"points": [{"kpi": "sales.mrr", "ts": "2026-01-01T00:00:00Z", "value": 1}]}'
    response = await post_body(client, tenant, body, "application/json; charset=utf-8")
    assert counts(response) == result(1, 1, 0, 0)


async def test_ndjson_blank_lines_crlf_and_no_trailing_newline(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    lines = ndjson([point("sales.mrr", minute, minute) for minute in range(3)]).split(b"\n")
    body = b"\n" + lines[0] + b"\n\n   \n" + lines[1] + b"\r\n" + lines[2]  # no final newline
    response = await post_body(client, tenant, body, NDJSON)
    assert counts(response) == result(3, 3, 0, 0)
    assert [item["value"] for item in await list_points(client, tenant, kpi_id)] == [0, 1, 2]


async def test_csv_dimension_columns_and_empty_cells(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, "sales.mrr")
    body = (
        "ts,dim.team,value,kpi,dim.region\r\n"  # any column order, CRLF line ends
        f"{ts(0)},emea,1,sales.mrr,\r\n"
        f"{ts(0)},,2,sales.mrr,\r\n"
        f'{ts(0)},emea,3.5,sales.mrr,"north, upper"\r\n'
        "\r\n"
        f"{ts(1)},,-4e3,sales.mrr,south\r\n"
    )
    response = await post_body(client, tenant, body, "text/csv; charset=utf-8")
    assert counts(response) == result(4, 4, 0, 0)
    stored = await list_points(client, tenant, kpi_id)
    assert sorted((item["ts"], item["value"], item["dimensions"]) for item in stored) == [
        (ts(0), 1.0, {"team": "emea"}),
        (ts(0), 2.0, {}),
        (ts(0), 3.5, {"team": "emea", "region": "north, upper"}),
        (ts(1), -4000.0, {"region": "south"}),
    ]
