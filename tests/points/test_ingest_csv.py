"""Bad CSV bodies: a missing header, bad rows by line and field, and nothing stored."""

import httpx
import pytest

from tests.points.helpers import CSV, assert_no_points, create_kpi, post_body, ts
from tests.support import Tenant, assert_problem, error_locs

KPI = "sales.mrr"
HEADER = "kpi,ts,value,dim.team"
GOOD_ROW = f"{KPI},{ts(0)},1.5,emea"


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        pytest.param("ts,value", "kpi", id="no-kpi"),
        pytest.param("kpi,value,dim.team", "ts", id="no-ts"),
        pytest.param("kpi,ts", "value", id="no-value"),
        pytest.param("kpi;ts;value", "kpi", id="semicolons"),
        pytest.param(f"{KPI},{ts(1)},2", "kpi", id="data-without-header"),
        pytest.param("KPI,TS,VALUE", "kpi", id="upper-case"),
    ],
)
async def test_csv_without_required_header_is_422(
    client: httpx.AsyncClient, tenant: Tenant, header: str, missing: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_body(client, tenant, f"{header}\n{GOOD_ROW}\n", CSV)
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "line", 1]]
    assert missing in body["errors"][0]["message"]
    await assert_no_points(client, tenant, kpi_id)


async def test_header_after_blank_lines_is_numbered_by_its_line(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    response = await post_body(client, tenant, f"\n\nts,value\n{GOOD_ROW}\n", CSV)
    assert error_locs(assert_problem(response, 422)) == [["body", "line", 3]]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize("body", ["", "\n", "\r\n\r\n"])
async def test_empty_csv_is_422(client: httpx.AsyncClient, tenant: Tenant, body: str) -> None:
    response = await post_body(client, tenant, body, CSV)
    assert error_locs(assert_problem(response, 422)) == [["body"]]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        pytest.param(f"sales.nope,{ts(1)},2,emea", "kpi", id="unknown-kpi"),
        pytest.param(f",{ts(1)},2,emea", "kpi", id="empty-kpi"),
        pytest.param(f"{KPI},2026-01-01T00:01:00,2,emea", "ts", id="ts-without-offset"),
        pytest.param(f"{KPI},2026-01-01,2,emea", "ts", id="ts-date-only"),
        pytest.param(f"{KPI},01/02/2026 10:00,2,emea", "ts", id="ts-unparseable"),
        pytest.param(f"{KPI},,2,emea", "ts", id="ts-empty"),
        pytest.param(f"{KPI},{ts(1)},NaN,emea", "value", id="value-nan"),
        pytest.param(f"{KPI},{ts(1)},nan,emea", "value", id="value-nan-lower"),
        pytest.param(f"{KPI},{ts(1)},inf,emea", "value", id="value-inf"),
        pytest.param(f"{KPI},{ts(1)},-Infinity,emea", "value", id="value-minus-infinity"),
        pytest.param(f"{KPI},{ts(1)},1e999,emea", "value", id="value-overflows"),
        pytest.param(f"{KPI},{ts(1)},twelve,emea", "value", id="value-word"),
        pytest.param(f"{KPI},{ts(1)},,emea", "value", id="value-empty"),
        pytest.param(f"{KPI},{ts(1)},1.5.2,emea", "value", id="value-two-dots"),
        pytest.param(f"{KPI},{ts(1)},12%,emea", "value", id="value-percent"),
        pytest.param(f"{KPI},{ts(1)},2,{'x' * 201}", "dimensions", id="dim-value-too-long"),
    ],
)
async def test_bad_csv_row_is_422_by_line_and_field(
    client: httpx.AsyncClient, tenant: Tenant, row: str, field: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = f"{HEADER}\n{GOOD_ROW}\n{row}\n{KPI},{ts(2)},3,\n"
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [["body", "line", 3, field]]
    await assert_no_points(client, tenant, kpi_id)


async def test_python_only_number_syntax_is_not_a_number(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """``1_000`` is a number to Python's float() only; to a CSV reader it is text."""
    kpi_id = await create_kpi(client, tenant, KPI)
    body = f"{HEADER}\n{GOOD_ROW}\n{KPI},{ts(1)},1_000,emea\n"
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [["body", "line", 3, "value"]]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("kpi,ts,value,dim.bad name", id="space-in-name"),
        pytest.param("kpi,ts,value,dim.", id="empty-name"),
        pytest.param(f"kpi,ts,value,dim.{'x' * 65}", id="name-too-long"),
    ],
)
async def test_bad_dimension_column_is_reported_on_rows_using_it(
    client: httpx.AsyncClient, tenant: Tenant, header: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = f"{header}\n{KPI},{ts(0)},1,\n{KPI},{ts(1)},2,emea\n"
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [["body", "line", 3, "dimensions"]]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(f"{KPI},{ts(1)},2", id="too-few"),
        pytest.param(f"{KPI},{ts(1)},2,emea,extra", id="too-many"),
        pytest.param(f'{KPI},{ts(1)},2,"em,ea",x', id="too-many-after-quotes"),
    ],
)
async def test_csv_row_with_wrong_number_of_fields(
    client: httpx.AsyncClient, tenant: Tenant, row: str
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = f"{HEADER}\n{GOOD_ROW}\n{row}\n"
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [["body", "line", 3]]
    assert "fields" in problem["errors"][0]["message"]
    await assert_no_points(client, tenant, kpi_id)


async def test_every_bad_row_is_listed_in_line_order(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = (
        f"{HEADER}\n"
        f"{GOOD_ROW}\n"
        f"{KPI},{ts(1)},x,\n"  # line 3
        "\n"  # line 4, blank
        f"nope,2026-01-01T00:02:00,inf,emea\n"  # line 5
        f"{KPI},{ts(3)}\n"  # line 6
        f"{KPI},{ts(4)},4,\n"  # line 7, fine
    )
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [
        ["body", "line", 3, "value"],
        ["body", "line", 5, "kpi"],
        ["body", "line", 5, "ts"],
        ["body", "line", 5, "value"],
        ["body", "line", 6],
    ]
    await assert_no_points(client, tenant, kpi_id)


@pytest.mark.parametrize(
    ("body", "line"),
    [
        pytest.param(f"{HEADER}\n{GOOD_ROW}\n{KPI},{ts(1)},2,em\rea\n", 3, id="cr-in-a-row"),
        pytest.param(f"kpi,t\rs,value\n{GOOD_ROW}\n", 1, id="cr-in-the-header"),
    ],
)
async def test_a_line_the_csv_reader_refuses_is_422_never_500(
    client: httpx.AsyncClient, tenant: Tenant, body: str, line: int
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    problem = assert_problem(await post_body(client, tenant, body, CSV), 422)
    assert error_locs(problem) == [["body", "line", line]]
    assert problem["errors"][0]["type"] == "csv_invalid"
    await assert_no_points(client, tenant, kpi_id)
