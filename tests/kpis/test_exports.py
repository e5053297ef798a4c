"""CSV and NDJSON exports of the KPI list and of a KPI's targets."""

import csv
import io
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.models import Kpi, KpiTarget
from tests.support import Tenant, assert_problem, error_locs

KPIS = "/v1/kpis"
KPI_COLUMNS = [
    "id",
    "key",
    "name",
    "unit",
    "description",
    "direction",
    "aggregation",
    "tags",
    "created_at",
    "updated_at",
]
TARGET_COLUMNS = ["id", "kpi_id", "period_start", "period_end", "value", "created_at"]
CSV_WAYS = [
    pytest.param({"format": "csv"}, {}, id="query"),
    pytest.param({}, {"Accept": "text/csv"}, id="accept"),
]
NDJSON_WAYS = [
    pytest.param({"format": "ndjson"}, {}, id="query"),
    pytest.param({}, {"Accept": "application/x-ndjson"}, id="accept"),
]


async def create_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str, **fields: Any) -> Any:
    payload = {"key": key, "name": f"KPI {key}", **fields}
    response = await client.post(KPIS, headers=tenant.headers, json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def csv_rows(response: httpx.Response, columns: list[str]) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == columns
    return list(reader)


def ndjson_lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    lines = response.text.splitlines()
    assert all(line.strip() for line in lines)
    return [json.loads(line) for line in lines]


async def bulk_kpis(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, count: int
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add_all(
            Kpi(
                org_id=tenant.id,
                key=f"bulk.{number:05d}",
                name=f"Bulk {number}",
                direction="higher_is_better",
                aggregation="sum",
                tags=["bulk"],
            )
            for number in range(count)
        )


@pytest.mark.parametrize(("params", "headers"), CSV_WAYS)
async def test_csv_export_of_kpis(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], headers: dict[str, str]
) -> None:
    tagged = await create_kpi(client, tenant, "arr", unit="EUR", tags=["sales", "emea"])
    plain = await create_kpi(client, tenant, "nps", direction="lower_is_better")
    response = await client.get(KPIS, headers={**tenant.headers, **headers}, params=params)
    assert "kpis.csv" in response.headers["content-disposition"]
    rows = csv_rows(response, KPI_COLUMNS)
    assert [row["id"] for row in rows] == [tagged["id"], plain["id"]]
    assert rows[0]["tags"] == "sales;emea"
    assert rows[0]["unit"] == "EUR"
    assert rows[0]["key"] == "arr"
    assert rows[0]["created_at"] == tagged["created_at"]
    assert rows[1]["tags"] == ""
    assert rows[1]["unit"] == ""
    assert rows[1]["direction"] == "lower_is_better"


@pytest.mark.parametrize(("params", "headers"), NDJSON_WAYS)
async def test_ndjson_export_of_kpis(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], headers: dict[str, str]
) -> None:
    await create_kpi(client, tenant, "arr", tags=["sales", "emea"])
    await create_kpi(client, tenant, "nps", description="Net promoter score")
    response = await client.get(KPIS, headers={**tenant.headers, **headers}, params=params)
    assert "kpis.ndjson" in response.headers["content-disposition"]
    listed = (await client.get(KPIS, headers=tenant.headers)).json()["items"]
    assert ndjson_lines(response) == listed
    assert listed[0]["tags"] == ["sales", "emea"]


async def test_an_empty_export_is_just_the_header(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(KPIS, headers=tenant.headers, params={"format": "csv"})
    assert csv_rows(response, KPI_COLUMNS) == []
    ndjson = await client.get(KPIS, headers=tenant.headers, params={"format": "ndjson"})
    assert ndjson.status_code == 200
    assert ndjson.text == ""


@pytest.mark.parametrize("value", ["xml", "CSV", ""])
async def test_unknown_format_is_422(client: httpx.AsyncClient, tenant: Tenant, value: str) -> None:
    response = await client.get(KPIS, headers=tenant.headers, params={"format": value})
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["query", "format"]]


async def test_format_json_is_the_paginated_list(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi = await create_kpi(client, tenant, "arr")
    response = await client.get(KPIS, headers=tenant.headers, params={"format": "json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"items": [kpi], "next_cursor": None}


@pytest.mark.parametrize("export_format", ["csv", "ndjson"])
async def test_export_returns_every_row_past_one_batch_ignoring_paging(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    export_format: str,
) -> None:
    await bulk_kpis(sessionmaker, tenant, 1050)
    first_page = await client.get(KPIS, headers=tenant.headers, params={"limit": 10})
    assert first_page.status_code == 200
    cursor = first_page.json()["next_cursor"]
    assert cursor is not None

    params = {"format": export_format, "limit": "10", "cursor": cursor}
    response = await client.get(KPIS, headers=tenant.headers, params=params)
    if export_format == "csv":
        rows: list[dict[str, Any]] = list(csv_rows(response, KPI_COLUMNS))
    else:
        rows = ndjson_lines(response)
    ids = [row["id"] for row in rows]
    assert len(ids) == 1050
    assert len(set(ids)) == 1050
    assert sorted(row["key"] for row in rows) == [f"bulk.{n:05d}" for n in range(1050)]


async def test_another_orgs_kpis_never_appear_in_an_export(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_kpi(client, tenant, "arr", tags=["sales"])
    await create_kpi(client, other_tenant, "arr", tags=["sales"])
    await create_kpi(client, other_tenant, "mrr", tags=["sales"])
    for params in ({"format": "csv"}, {"format": "csv", "tag": "sales"}):
        rows = csv_rows(await client.get(KPIS, headers=tenant.headers, params=params), KPI_COLUMNS)
        assert [row["id"] for row in rows] == [mine["id"]]
    ndjson = await client.get(KPIS, headers=tenant.headers, params={"format": "ndjson"})
    assert [line["id"] for line in ndjson_lines(ndjson)] == [mine["id"]]


async def test_the_tag_filter_applies_to_exports(client: httpx.AsyncClient, tenant: Tenant) -> None:
    sales = await create_kpi(client, tenant, "arr", tags=["sales"])
    await create_kpi(client, tenant, "headcount", tags=["hr"])
    response = await client.get(
        KPIS, headers=tenant.headers, params={"format": "csv", "tag": "sales"}
    )
    assert [row["id"] for row in csv_rows(response, KPI_COLUMNS)] == [sales["id"]]


async def test_exports_need_a_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_kpi(client, tenant, "arr")
    response = await client.get(KPIS, params={"format": "csv"})
    assert_problem(response, 401, "unauthorized")
    assert "arr" not in response.text


@pytest.mark.parametrize("export_format", ["csv", "ndjson"])
async def test_targets_export(
    client: httpx.AsyncClient, tenant: Tenant, export_format: str
) -> None:
    kpi = await create_kpi(client, tenant, "arr")
    url = f"{KPIS}/{kpi['id']}/targets"
    for start, end, value in [
        ("2026-07-01", "2026-09-30", 3.5),
        ("2026-01-01", "2026-03-31", 1),
        ("2026-04-01", "2026-06-30", 2),
    ]:
        created = await client.post(
            url,
            headers=tenant.headers,
            json={"period_start": start, "period_end": end, "value": value},
        )
        assert created.status_code == 201, created.text
    listed = (await client.get(url, headers=tenant.headers)).json()["items"]
    response = await client.get(
        url, headers=tenant.headers, params={"format": export_format, "limit": 1}
    )
    assert f"kpi-targets.{export_format}" in response.headers["content-disposition"]
    if export_format == "ndjson":
        assert ndjson_lines(response) == listed
        return
    rows = csv_rows(response, TARGET_COLUMNS)
    assert [row["id"] for row in rows] == [target["id"] for target in listed]
    assert [row["period_start"] for row in rows] == ["2026-01-01", "2026-04-01", "2026-07-01"]
    assert {row["kpi_id"] for row in rows} == {kpi["id"]}
    assert [float(row["value"]) for row in rows] == [1.0, 2.0, 3.5]


async def test_targets_export_past_one_batch(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi = await create_kpi(client, tenant, "daily")
    first_day = date(2024, 1, 1)
    async with sessionmaker() as session, session.begin():
        session.add_all(
            KpiTarget(
                org_id=tenant.id,
                kpi_id=uuid.UUID(kpi["id"]),
                period_start=first_day + timedelta(days=n),
                period_end=first_day + timedelta(days=n),
                value=float(n),
            )
            for n in range(1050)
        )
    response = await client.get(
        f"{KPIS}/{kpi['id']}/targets", headers=tenant.headers, params={"format": "csv"}
    )
    rows = csv_rows(response, TARGET_COLUMNS)
    assert len({row["id"] for row in rows}) == len(rows) == 1050
    assert [row["period_start"] for row in rows] == [
        (first_day + timedelta(days=n)).isoformat() for n in range(1050)
    ]


async def test_another_orgs_targets_cannot_be_exported(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_kpi(client, other_tenant, "arr")
    url = f"{KPIS}/{theirs['id']}/targets"
    target = await client.post(
        url,
        headers=other_tenant.headers,
        json={"period_start": "2026-01-01", "period_end": "2026-01-31", "value": 1},
    )
    assert target.status_code == 201
    for export_format in ("csv", "ndjson"):
        response = await client.get(url, headers=tenant.headers, params={"format": export_format})
        assert_problem(response, 404, "not-found")
        assert target.json()["id"] not in response.text
    still = await client.get(url, headers=other_tenant.headers, params={"format": "csv"})
    assert [row["id"] for row in csv_rows(still, TARGET_COLUMNS)] == [target.json()["id"]]
