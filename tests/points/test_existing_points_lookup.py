"""Before COPYing a request's points, ingestion asks whether any of their KPIs already has
a point in the request's time range. That question must cost a few index pages per KPI,
not a page per stored point of the org: it runs on every request."""

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.points import repository
from tests.points.helpers import BASE, NDJSON, create_kpi, ndjson_lines, post_body
from tests.support import Tenant

STORED = 20_000  # about 14 days of one point a minute: January 2026's partition
# Past the fifth run of a statement PostgreSQL may plan it once for any parameters,
# which is where a KPI condition used as a mere filter once crept in.
RUNS = 8


async def test_the_lookup_reads_few_index_pages_however_many_points_are_stored(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await create_kpi(client, tenant, "stored.daily")
    fresh = uuid.UUID(await create_kpi(client, tenant, "fresh.daily"))
    response = await post_body(
        client, tenant, b"".join(ndjson_lines("stored.daily", STORED)), NDJSON
    )
    assert response.status_code == 200, response.text
    # The fresh KPI's range lies among the stored points.
    first, last = BASE + timedelta(days=2), BASE + timedelta(days=9)

    async with sessionmaker() as session, session.begin():
        pages = text("SELECT pg_stat_get_xact_blocks_hit('points_2026_01_pkey'::regclass)")
        before = (await session.execute(pages)).scalar_one()
        for _ in range(RUNS):
            existing, found = await repository.lock_kpis_and_find_points(
                session, tenant.id, [fresh], first, last
            )
            assert (existing, found) == (1, False)
        read = (await session.execute(pages)).scalar_one() - before
        # And the stored KPI's points are found.
        existing, found = await repository.lock_kpis_and_find_points(
            session, tenant.id, [fresh, *await stored_kpi(session, tenant)], first, last
        )
        assert (existing, found) == (2, True)

    # A descent of the index per run (its root, maybe an inner page, a leaf), against the
    # 65 pages a run (520 in all) read by the scan of the org's entries this replaced.
    assert read <= 4 * RUNS, read


async def stored_kpi(session: AsyncSession, tenant: Tenant) -> list[uuid.UUID]:
    result = await session.execute(
        text("SELECT id FROM kpis WHERE org_id = :org_id AND key = 'stored.daily'"),
        {"org_id": tenant.id},
    )
    return [result.scalar_one()]
