"""Streamed NDJSON and CSV bodies past one 10,000-point batch (the staging path)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.points.helpers import (
    CSV,
    NDJSON,
    assert_no_points,
    chunked,
    count_points,
    counts,
    create_kpi,
    list_points,
    ndjson_lines,
    post_body,
    result,
    ts,
)
from tests.support import Tenant, assert_problem, error_locs

KPI = "sales.mrr"
TOTAL = 30_000


def line(minute: int, value: float) -> bytes:
    return b'{"kpi":"%s","ts":"%s","value":%r}\n' % (KPI.encode(), ts(minute).encode(), value)


async def test_30000_streamed_points_are_all_stored(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    body = chunked(ndjson_lines(KPI, TOTAL, value=1.0))
    response = await post_body(client, tenant, body, NDJSON)
    assert "content-length" not in response.request.headers
    assert counts(response) == result(TOTAL, TOTAL, 0, 0)
    assert await count_points(sessionmaker, kpi_id) == TOTAL
    edges = await list_points(client, tenant, kpi_id, to=ts(2))
    edges += await list_points(client, tenant, kpi_id, **{"from": ts(TOTAL - 2)})
    assert [item["ts"] for item in edges] == [ts(0), ts(1), ts(TOTAL - 2), ts(TOTAL - 1)]


async def test_resending_a_large_body_counts_updates_and_inserts(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    first = await post_body(client, tenant, chunked(ndjson_lines(KPI, TOTAL)), NDJSON)
    assert counts(first) == result(TOTAL, TOTAL, 0, 0)
    # The same points again, 100 of them (spread over the batches) with new values,
    # plus 10 new ones at the end.
    lines = [line(minute, 5.0 if minute % 300 == 0 else 1.0) for minute in range(TOTAL + 10)]
    second = await post_body(client, tenant, chunked(lines), NDJSON)
    assert counts(second) == result(TOTAL + 10, 10, 100, TOTAL - 100)
    assert await count_points(sessionmaker, kpi_id) == TOTAL + 10
    changed = await list_points(client, tenant, kpi_id, to=ts(301))
    assert [item["value"] for item in changed if item["value"] == 5.0] == [5.0, 5.0]


async def test_exact_repeat_across_batches_counts_once(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL)
    lines[24_999] = lines[4]  # line 25,000 repeats line 5, value and all
    response = await post_body(client, tenant, chunked(lines), NDJSON)
    assert counts(response) == result(TOTAL, TOTAL - 1, 0, 1)
    assert await count_points(sessionmaker, kpi_id) == TOTAL - 1


async def test_bad_line_near_the_end_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL)
    lines[29_998] = b'{"kpi":"%s","ts":"%s","value":"high"}\n' % (KPI.encode(), ts(29_998).encode())
    response = await post_body(client, tenant, chunked(lines), NDJSON)
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "line", 29_999, "value"]]
    await assert_no_points(client, tenant, kpi_id)
    assert await count_points(sessionmaker, kpi_id) == 0


async def test_bad_csv_row_near_the_end_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    rows = [b"kpi,ts,value,dim.team\n"] + [
        f"{KPI},{ts(minute)},{minute},emea\n".encode() for minute in range(TOTAL)
    ]
    rows[29_998] = f"{KPI},2026-01-01 10:00,1,emea\n".encode()  # line 29,999: no offset
    response = await post_body(client, tenant, chunked(rows), CSV)
    assert error_locs(assert_problem(response, 422)) == [["body", "line", 29_999, "ts"]]
    await assert_no_points(client, tenant, kpi_id)


async def test_duplicate_across_batches_with_another_value_is_422(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL, value=1.0)
    lines[24_999] = line(4, 2.0)  # line 25,000: line 5's point with another value
    response = await post_body(client, tenant, chunked(lines), NDJSON)
    body = assert_problem(response, 422)
    assert error_locs(body) == [["body", "line", 25_000]]
    assert body["errors"][0]["type"] == "duplicate_point"
    assert "as 5 " in body["errors"][0]["message"]
    await assert_no_points(client, tenant, kpi_id)
    assert await count_points(sessionmaker, kpi_id) == 0


async def test_150_duplicates_across_batches_list_100(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL, value=1.0)
    for offset in range(150):
        lines[25_000 + offset] = line(offset, 2.0)  # lines 25,001-25,150 repeat lines 1-150
    body = assert_problem(await post_body(client, tenant, chunked(lines), NDJSON), 422)
    assert body["errors_total"] == 150
    assert error_locs(body) == [["body", "line", 25_001 + offset] for offset in range(100)]
    await assert_no_points(client, tenant, kpi_id)


async def test_150_bad_lines_across_batches_list_the_first_100(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL)
    bad_numbers = [1 + 200 * n for n in range(150)]  # lines 1 to 29,801
    for number in bad_numbers:
        lines[number - 1] = b"not json\n"
    body = assert_problem(await post_body(client, tenant, chunked(lines), NDJSON), 422)
    assert body["errors_total"] == 150
    assert error_locs(body) == [["body", "line", number] for number in bad_numbers[:100]]
    await assert_no_points(client, tenant, kpi_id)


async def test_duplicate_is_listed_with_a_later_bad_line(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Each bad point is listed: a conflicting repeat in the staged batches as well."""
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, TOTAL, value=1.0)
    lines[14_999] = line(4, 2.0)  # line 15,000 conflicts with line 5
    lines[28_999] = b"{}\n"  # line 29,000 has no kpi, ts or value
    body = assert_problem(await post_body(client, tenant, chunked(lines), NDJSON), 422)
    locs = error_locs(body)
    assert ["body", "line", 15_000] in locs
    assert ["body", "line", 29_000, "kpi"] in locs
    await assert_no_points(client, tenant, kpi_id)
