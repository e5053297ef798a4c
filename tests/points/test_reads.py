"""GET /v1/kpis/{id}/points: order, keyset pages, time bounds, dimension filters, exports."""

import csv
import io
import uuid

import httpx
import msgspec
import pytest

from tests.points.helpers import (
    CSV,
    by_time,
    counts,
    create_kpi,
    list_points,
    point,
    post_body,
    post_json,
    result,
    ts,
)
from tests.support import Tenant, assert_problem, error_locs, walk_pages

KPI = "sales.mrr"


def url(kpi_id: str) -> str:
    return f"/v1/kpis/{kpi_id}/points"


async def seeded(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """A KPI with points at minutes 0..5, teams emea/apac alternating, region on some."""
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [
        point(KPI, 5, 5.0, team="apac"),
        point(KPI, 0, 0.0, team="emea", region="north"),
        point(KPI, 3, 3.0, team="apac", region="south"),
        point(KPI, 1, 1.0, team="apac"),
        point(KPI, 2, 2.0, team="emea"),
        point(KPI, 4, 4.0, team="emea", region="north"),
    ]
    assert counts(await post_json(client, tenant, sent)) == result(6, 6, 0, 0)
    return kpi_id


async def test_points_are_listed_by_time(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(url(kpi_id), headers=tenant.headers)
    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    assert "link" not in response.headers
    assert [item["ts"] for item in page["items"]] == [ts(minute) for minute in range(6)]
    assert page["items"][0] == {
        "ts": ts(0),
        "value": 0.0,
        "dimensions": {"team": "emea", "region": "north"},
    }


async def test_pages_walk_every_point_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    # Five points share each timestamp, so pages also split inside one ts.
    sent = [point(KPI, minute, 1.0, team=f"t{n}") for minute in range(3) for n in range(5)]
    assert counts(await post_json(client, tenant, sent)) == result(15, 15, 0, 0)
    pages = await walk_pages(client, f"{url(kpi_id)}?limit=4", tenant.headers)
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    seen = [(item["ts"], item["dimensions"]["team"]) for page in pages for item in page]
    assert len(seen) == len(set(seen)) == 15
    assert [stamp for stamp, _ in seen] == sorted(stamp for stamp, _ in seen)


async def test_pages_keep_the_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await seeded(client, tenant)
    params = {"limit": "1", "dim.team": "emea", "from": ts(1)}
    first = await client.get(url(kpi_id), headers=tenant.headers, params=params)
    assert [item["ts"] for item in first.json()["items"]] == [ts(2)]
    link = first.headers["link"]
    second = await client.get(link[1 : link.index(">")], headers=tenant.headers)
    assert [item["ts"] for item in second.json()["items"]] == [ts(4)]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "minutes"),
    [
        ({"from": ts(2)}, [2, 3, 4, 5]),
        ({"to": ts(2)}, [0, 1]),
        ({"from": ts(1), "to": ts(4)}, [1, 2, 3]),
        ({"from": "2026-01-01T01:01:00+01:00", "to": "2026-01-01T00:03:00Z"}, [1, 2]),
        ({"from": "2026-01-01", "to": "2026-01-02"}, [0, 1, 2, 3, 4, 5]),
        ({"from": "2026-01-02"}, []),
        ({"to": "2026-01-01"}, []),
        ({"from": "2025-12-31T23:59:59.999999Z", "to": "2026-01-01T00:00:00.000001Z"}, [0]),
    ],
)
async def test_from_is_inclusive_and_to_exclusive(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], minutes: list[int]
) -> None:
    kpi_id = await seeded(client, tenant)
    listed = await list_points(client, tenant, kpi_id, **params)
    assert [item["ts"] for item in listed] == [ts(minute) for minute in minutes]


@pytest.mark.parametrize(
    ("params", "locs"),
    [
        ({"from": ts(3), "to": ts(3)}, [["query", "to"]]),
        ({"from": ts(4), "to": ts(3)}, [["query", "to"]]),
        ({"from": "2026-01-01T00:00:00"}, [["query", "from"]]),
        ({"to": "yesterday"}, [["query", "to"]]),
        ({"from": "2026-02-30"}, [["query", "from"]]),
        ({"from": "x", "to": "y"}, [["query", "from"], ["query", "to"]]),
    ],
)
async def test_bad_time_bounds_are_422(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], locs: list[list[str]]
) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(url(kpi_id), headers=tenant.headers, params=params)
    assert error_locs(assert_problem(response, 422)) == locs


@pytest.mark.parametrize(
    ("params", "minutes"),
    [
        ({"dim.team": "emea"}, [0, 2, 4]),
        ({"dim.team": "apac"}, [1, 3, 5]),
        ({"dim.team": "emea", "dim.region": "north"}, [0, 4]),
        ({"dim.region": "south", "dim.team": "emea"}, []),
        ({"dim.team": "nowhere"}, []),
        ({"dim.team": "apac", "from": ts(2)}, [3, 5]),
    ],
)
async def test_dimension_filters(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], minutes: list[int]
) -> None:
    kpi_id = await seeded(client, tenant)
    listed = await list_points(client, tenant, kpi_id, **params)
    assert [item["ts"] for item in listed] == [ts(minute) for minute in minutes]


@pytest.mark.parametrize("name", ["dim.bad name", "dim.", "dim.a/b", f"dim.{'x' * 65}"])
async def test_bad_dimension_filter_is_422(
    client: httpx.AsyncClient, tenant: Tenant, name: str
) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(url(kpi_id), headers=tenant.headers, params={name: "emea"})
    assert error_locs(assert_problem(response, 422)) == [["query", name]]


@pytest.mark.parametrize("cursor", ["garbage!", "WyJ4Il0", "WyJ4IiwieSJd", "WzEsMl0"])
async def test_bad_cursor_is_422(client: httpx.AsyncClient, tenant: Tenant, cursor: str) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(url(kpi_id), headers=tenant.headers, params={"cursor": cursor})
    assert error_locs(assert_problem(response, 422)) == [["query", "cursor"]]


async def test_unknown_kpi_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = await client.get(url(str(uuid.uuid4())), headers=tenant.headers)
    assert_problem(missing, 404)
    malformed = await client.get(url("not-a-uuid"), headers=tenant.headers)
    assert error_locs(assert_problem(malformed, 422)) == [["path", "kpi_id"]]


async def test_csv_export_round_trips_through_ingestion(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await seeded(client, tenant)
    extra = [{"kpi": KPI, "ts": ts(6), "value": 0.1, "dimensions": {"team": "emea, west"}}]
    assert (await post_json(client, tenant, extra)).status_code == 200
    response = await client.get(url(kpi_id), headers=tenant.headers, params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{KPI}-points.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.text.splitlines()[0] == "kpi,ts,value,dim.region,dim.team"
    assert len(rows) == 7
    assert rows[0]["kpi"] == KPI
    assert rows[0]["dim.region"] == "north"
    assert rows[1]["dim.region"] == ""  # absent dimension: empty cell

    copy_id = await create_kpi(client, tenant, "sales.mrr_copy")
    for row in rows:
        row["kpi"] = "sales.mrr_copy"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    assert counts(await post_body(client, tenant, buffer.getvalue(), CSV)) == result(7, 7, 0, 0)
    original = by_time(await list_points(client, tenant, kpi_id))
    assert by_time(await list_points(client, tenant, copy_id)) == original


async def test_ndjson_export(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(
        url(kpi_id), headers=tenant.headers, params={"format": "ndjson", "dim.team": "emea"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [msgspec.json.decode(line) for line in response.text.splitlines()]
    assert lines == [
        {"ts": ts(0), "value": 0.0, "dimensions": {"team": "emea", "region": "north"}},
        {"ts": ts(2), "value": 2.0, "dimensions": {"team": "emea"}},
        {"ts": ts(4), "value": 4.0, "dimensions": {"team": "emea", "region": "north"}},
    ]


async def test_csv_export_by_accept_header_with_range(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await seeded(client, tenant)
    response = await client.get(
        url(kpi_id),
        headers={**tenant.headers, "Accept": "text/csv"},
        params={"from": ts(1), "to": ts(3)},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["value"], row["dim.team"]) for row in rows] == [("1.0", "apac"), ("2.0", "emea")]


async def test_empty_exports(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    as_csv = await client.get(url(kpi_id), headers=tenant.headers, params={"format": "csv"})
    assert as_csv.text == "kpi,ts,value\n"
    as_ndjson = await client.get(url(kpi_id), headers=tenant.headers, params={"format": "ndjson"})
    assert as_ndjson.status_code == 200
    assert as_ndjson.text == ""


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
async def test_export_returns_every_point_past_one_batch(
    client: httpx.AsyncClient, tenant: Tenant, fmt: str
) -> None:
    """Exports read 1,000 rows at a time; a KPI with more gets them all."""
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = b"".join(
        b'{"kpi":"%s","ts":"%s","value":1}\n' % (KPI.encode(), ts(minute).encode())
        for minute in range(1_200)
    )
    assert (
        counts(await post_body(client, tenant, lines, "application/x-ndjson"))["inserted"] == 1_200
    )
    response = await client.get(url(kpi_id), headers=tenant.headers, params={"format": fmt})
    assert response.status_code == 200
    rows = response.text.splitlines()[1:] if fmt == "csv" else response.text.splitlines()
    assert len(rows) == 1_200
