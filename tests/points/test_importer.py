"""``perfapi import`` (points.importer.import_file) against the real app."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.points.importer import ImportFailedError, ImportSummary, import_file
from tests.points.helpers import count_points, create_kpi, list_points, ndjson_lines, ts
from tests.support import Tenant

KPI = "sales.mrr"


class FlakyTransport(httpx.AsyncBaseTransport):
    """Loses the first POST: before it reaches the app, or after (the reply is lost)."""

    def __init__(self, app: FastAPI, *, lose_reply: bool = False) -> None:
        self.inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.lose_reply = lose_reply
        self.keys: list[str | None] = []
        self.replayed: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.inner.handle_async_request(request)
        self.keys.append(request.headers.get("idempotency-key"))
        first = len(self.keys) == 1
        if first and not self.lose_reply:
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.replayed.append(response.headers.get("idempotent-replayed"))
        if first:
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


@pytest.fixture
async def importing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> AsyncIterator[httpx.AsyncClient]:
    """An importer's client on the app (the ``client`` fixture empties the tables first)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://perfapi.test", headers=tenant.headers
    ) as http:
        yield http


def csv_file(path: Path, count: int) -> Path:
    lines = ["kpi,ts,value,dim.team\n"]
    lines += [
        f"{KPI},{ts(minute)},{minute},{'emea' if minute % 2 else ''}\n" for minute in range(count)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def ndjson_file(path: Path, count: int) -> Path:
    path.write_bytes(b"".join(ndjson_lines(KPI, count)))
    return path


async def test_csv_file_in_three_batches(
    importing: httpx.AsyncClient,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    progress: list[tuple[int, int]] = []

    def on_progress(size: int, summary: ImportSummary) -> None:
        progress.append((size, summary.received))

    path = csv_file(tmp_path / "points.csv", 12_000)
    summary = await import_file(
        importing, path, batch_size=5000, backoff_seconds=0, on_progress=on_progress
    )
    assert (summary.received, summary.inserted, summary.updated, summary.unchanged) == (
        12_000,
        12_000,
        0,
        0,
    )
    assert (summary.batches, summary.retries) == (3, 0)
    assert [received for _, received in progress] == [5000, 10_000, 12_000]
    assert sum(size for size, _ in progress) == path.stat().st_size
    assert await count_points(sessionmaker, kpi_id) == 12_000
    last = await list_points(client, tenant, kpi_id, **{"from": ts(11_998)})
    assert last == [
        {"ts": ts(11_998), "value": 11_998.0, "dimensions": {}},
        {"ts": ts(11_999), "value": 11_999.0, "dimensions": {"team": "emea"}},
    ]

    again = await import_file(importing, path, batch_size=5000, backoff_seconds=0)
    assert (again.received, again.inserted, again.unchanged) == (12_000, 0, 12_000)
    assert await count_points(sessionmaker, kpi_id) == 12_000


async def test_bad_line_stops_the_import_with_its_file_line(
    importing: httpx.AsyncClient,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, 12_000)
    lines[7002] = b'{"kpi":"%s","ts":"2026-01-05T10:00:00","value":1}\n' % KPI.encode()
    path = tmp_path / "points.ndjson"
    path.write_bytes(b"".join(lines))
    with pytest.raises(ImportFailedError) as failure:
        await import_file(importing, path, batch_size=5000, backoff_seconds=0)
    assert "line 7003" in str(failure.value)
    assert "offset" in str(failure.value)
    # The first batch (lines 1-5000) is stored; nothing of the second or third.
    assert await count_points(sessionmaker, kpi_id) == 5000
    stored = await list_points(client, tenant, kpi_id, **{"from": ts(4999)})
    assert [item["ts"] for item in stored] == [ts(4999)]


async def test_parallel_batches_store_everything_once(
    importing: httpx.AsyncClient,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    path = csv_file(tmp_path / "points.csv", 12_000)
    summary = await import_file(importing, path, batch_size=2000, parallel=4, backoff_seconds=0)
    assert (summary.received, summary.inserted, summary.batches) == (12_000, 12_000, 6)
    assert await count_points(sessionmaker, kpi_id) == 12_000


async def test_parallel_import_reports_the_earliest_bad_line(
    importing: httpx.AsyncClient, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, 12_000)
    for index in (3_500, 9_100):
        lines[index] = b'{"kpi":"%s","ts":"2026-01-05T10:00:00","value":1}\n' % KPI.encode()
    path = tmp_path / "points.ndjson"
    path.write_bytes(b"".join(lines))
    with pytest.raises(ImportFailedError) as failure:
        await import_file(importing, path, batch_size=1000, parallel=4, backoff_seconds=0)
    assert "line 3501" in str(failure.value)


async def test_bad_csv_line_is_named_by_its_file_line(
    importing: httpx.AsyncClient, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    path = csv_file(tmp_path / "points.csv", 120)
    lines = path.read_text().splitlines(keepends=True)
    lines[75] = f"{KPI},{ts(74)},lots,\n"  # file line 76
    path.write_text("".join(lines))
    with pytest.raises(ImportFailedError) as failure:
        await import_file(importing, path, batch_size=50, backoff_seconds=0)
    assert "line 76" in str(failure.value)
    assert len(await list_points(client, tenant, kpi_id)) == 50


async def test_connect_error_is_retried_under_the_same_key(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    flaky = FlakyTransport(app)
    async with httpx.AsyncClient(
        transport=flaky, base_url="http://perfapi.test", headers=tenant.headers
    ) as http:
        summary = await import_file(
            http, ndjson_file(tmp_path / "p.ndjson", 3000), batch_size=5000, backoff_seconds=0
        )
    assert summary.retries == 1
    assert (summary.batches, summary.received, summary.inserted) == (1, 3000, 3000)
    assert len(flaky.keys) == 2
    assert flaky.keys[0] is not None
    assert flaky.keys[0] == flaky.keys[1]
    assert await count_points(sessionmaker, kpi_id) == 3000


async def test_lost_reply_is_replayed_not_redone(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    flaky = FlakyTransport(app, lose_reply=True)
    async with httpx.AsyncClient(
        transport=flaky, base_url="http://perfapi.test", headers=tenant.headers
    ) as http:
        summary = await import_file(
            http, csv_file(tmp_path / "p.csv", 7000), batch_size=5000, backoff_seconds=0
        )
    assert summary.retries == 1
    assert summary.batches == 2
    # The retried batch reports its first (stored) reply: inserted, not unchanged.
    assert (summary.received, summary.inserted, summary.unchanged) == (7000, 7000, 0)
    assert flaky.keys[0] == flaky.keys[1] != flaky.keys[2]
    assert flaky.replayed == [None, "true", None]
    assert await count_points(sessionmaker, kpi_id) == 7000


async def test_unknown_file_type_is_refused(
    importing: httpx.AsyncClient, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    path = tmp_path / "points.txt"
    path.write_text("kpi,ts,value\n")
    with pytest.raises(ImportFailedError, match=r"\.csv"):
        await import_file(importing, path)
    assert await list_points(client, tenant, kpi_id) == []
