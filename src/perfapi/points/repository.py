"""SQL of points: COPY fast path, staging and merge, reads and deletes."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import keyset_page
from perfapi.models import Kpi, Point
from perfapi.points.copy_binary import (
    COPY_COLUMNS,
    STAGING_COPY_COLUMNS,
    encode_rows,
    encode_staged_rows,
)
from perfapi.points.records import PointRow

STAGING_TABLE = "points_staging"


async def _driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection, for COPY (SQLAlchemy has no COPY API)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def kpi_ids_by_key(session: AsyncSession, org_id: UUID) -> tuple[UUID, dict[str, UUID]]:
    """The org's id and its KPIs' ids by key, as asyncpg's own UUID objects.

    Read through the driver on purpose: it runs on every ingest request, and
    asyncpg's UUIDs hash and compare faster than the standard library's when the
    request's rows are sorted and their leading columns looked up.
    """
    driver = await _driver(session)
    records = await driver.fetch(
        "SELECT o.id AS org_id, k.key, k.id FROM orgs o LEFT JOIN kpis k ON k.org_id = o.id "
        "WHERE o.id = $1",
        org_id,
    )
    org = records[0]["org_id"] if records else org_id
    return org, {record["key"]: record["id"] for record in records if record["key"] is not None}


async def lock_kpis(session: AsyncSession, kpis: Iterable[tuple[UUID, UUID]]) -> int:
    """FOR KEY SHARE on the (org_id, kpi_id) written to, so a concurrent KPI delete
    waits for this request; returns how many of them still exist."""
    result = await session.execute(
        select(Kpi.id)
        .where(tuple_(Kpi.org_id, Kpi.id).in_(sorted(kpis)))
        .order_by(Kpi.org_id, Kpi.id)
        .with_for_update(read=True, key_share=True)
    )
    return len(result.all())


async def lock_kpis_and_find_points(
    session: AsyncSession, org_id: UUID, kpi_ids: Iterable[UUID], first: datetime, last: datetime
) -> tuple[int, bool]:
    """Lock the KPIs as :func:`lock_kpis` does: (how many still exist, whether any of
    their points lies in [first, last]).

    One round trip, through the driver: it runs once per request on the hot path.
    """
    driver = await _driver(session)
    record = await driver.fetchrow(
        "WITH locked AS ("
        "  SELECT id FROM kpis WHERE org_id = $1 AND id = ANY($2::uuid[])"
        "  ORDER BY id FOR KEY SHARE"
        ") SELECT (SELECT count(*) FROM locked), EXISTS ("
        "  SELECT 1 FROM unnest($2::uuid[]) AS written(kpi_id) CROSS JOIN LATERAL ("
        "    SELECT 1 FROM points p"
        "    WHERE p.org_id = $1 AND p.kpi_id = written.kpi_id AND p.ts >= $3 AND p.ts <= $4"
        "    LIMIT 1) AS found)",
        org_id,
        sorted(kpi_ids),
        first,
        last,
    )
    return int(record[0]), bool(record[1])


async def copy_points(
    session: AsyncSession, rows: Sequence[PointRow], table: str = "points"
) -> None:
    """COPY rows straight into ``points``, or into the partition ``table`` they all fall in
    (raises UniqueViolationError on a clash).

    Into the partition when it can: PostgreSQL COPYs into a partitioned table row by
    row when the table has statement triggers with transition tables (the data
    version notes), but into a plain table in batches: a third faster (see
    docs/performance.md).
    """
    driver = await _driver(session)
    # A memoryview: asyncpg would take plain bytes for a file's path.
    await driver.copy_to_table(
        table, source=memoryview(encode_rows(rows)), columns=COPY_COLUMNS, format="binary"
    )


async def create_staging(session: AsyncSession) -> None:
    await session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS points_staging ("
            "pos integer, org_id uuid, kpi_id uuid, ts timestamptz, dims_hash bigint, "
            "value double precision, dimensions jsonb) ON COMMIT DROP"
        )
    )


async def copy_to_staging(
    session: AsyncSession, positions: Sequence[int], rows: Sequence[PointRow]
) -> None:
    driver = await _driver(session)
    await driver.copy_to_table(
        STAGING_TABLE,
        source=memoryview(encode_staged_rows(positions, rows)),
        columns=STAGING_COPY_COLUMNS,
        format="binary",
    )


async def staged_kpi_ids(session: AsyncSession) -> list[tuple[UUID, UUID]]:
    result = await session.execute(text("SELECT DISTINCT org_id, kpi_id FROM points_staging"))
    return [(org_id, kpi_id) for org_id, kpi_id in result]


async def staged_months(session: AsyncSession) -> set[int]:
    """The UTC months of the staged points, as :mod:`.months` numbers them."""
    result = await session.execute(
        text(
            "SELECT DISTINCT CAST(extract(year FROM ts AT TIME ZONE 'UTC') * 12"
            " + extract(month FROM ts AT TIME ZONE 'UTC') - 1 AS integer) FROM points_staging"
        )
    )
    return {month for (month,) in result}


async def staged_conflicts(session: AsyncSession, limit: int) -> tuple[list[tuple[int, int]], int]:
    """Points sent twice with different values: (position, first position), and the total."""
    rows = (
        await session.execute(
            text(
                "SELECT pos, first_pos, count(*) OVER () FROM ("
                "  SELECT pos, value, first_value(value) OVER same AS first_value,"
                "         first_value(pos) OVER same AS first_pos"
                "  FROM points_staging"
                "  WINDOW same AS (PARTITION BY kpi_id, ts, dims_hash ORDER BY pos)"
                ") s WHERE value IS DISTINCT FROM first_value ORDER BY pos LIMIT :limit"
            ),
            {"limit": limit},
        )
    ).all()
    total = rows[0][2] if rows else 0
    return [(row[0], row[1]) for row in rows], total


# Each reads the staged points one per key (the first sent), in key order.
_UPSERT_INTO_PARTITION = (
    "WITH merged AS ("
    "  INSERT INTO {partition} (org_id, kpi_id, ts, dims_hash, value, dimensions)"
    "  SELECT DISTINCT ON (org_id, kpi_id, ts, dims_hash)"
    "         org_id, kpi_id, ts, dims_hash, value, dimensions"
    "  FROM points_staging ORDER BY org_id, kpi_id, ts, dims_hash, pos"
    "  ON CONFLICT (org_id, kpi_id, ts, dims_hash) DO UPDATE"
    "    SET value = EXCLUDED.value, dimensions = EXCLUDED.dimensions"
    "    WHERE {partition}.value IS DISTINCT FROM EXCLUDED.value"
    "  RETURNING kpi_id, (xmax = 0) AS inserted"
    ") SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
    " array_remove(array_agg(DISTINCT kpi_id), NULL)"
    " FROM merged"
)
_INSERT_NEW = text(
    "WITH staged AS MATERIALIZED ("
    "  SELECT DISTINCT ON (org_id, kpi_id, ts, dims_hash)"
    "         org_id, kpi_id, ts, dims_hash, value, dimensions"
    "  FROM points_staging ORDER BY org_id, kpi_id, ts, dims_hash, pos"
    "), inserted AS ("
    "  INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)"
    "  SELECT * FROM staged"
    "  ON CONFLICT (org_id, kpi_id, ts, dims_hash) DO NOTHING RETURNING kpi_id"
    ") SELECT (SELECT count(*) FROM staged), count(*),"
    " array_remove(array_agg(DISTINCT kpi_id), NULL) FROM inserted"
)
_UPDATE_CHANGED = text(
    "WITH updated AS ("
    "  INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)"
    "  SELECT DISTINCT ON (org_id, kpi_id, ts, dims_hash)"
    "         org_id, kpi_id, ts, dims_hash, value, dimensions"
    "  FROM points_staging ORDER BY org_id, kpi_id, ts, dims_hash, pos"
    "  ON CONFLICT (org_id, kpi_id, ts, dims_hash) DO UPDATE"
    "    SET value = EXCLUDED.value, dimensions = EXCLUDED.dimensions"
    "    WHERE points.value IS DISTINCT FROM EXCLUDED.value"
    "  RETURNING kpi_id"
    ") SELECT count(*), array_remove(array_agg(DISTINCT kpi_id), NULL) FROM updated"
)


async def merge_staging(
    session: AsyncSession, partition: str | None = None
) -> tuple[int, int, frozenset[UUID]]:
    """Upsert the staged points: (inserted, updated, the KPIs whose points changed).

    Rows are merged in key order, so concurrent merges lock rows in the same order
    and cannot deadlock. A point re-sent with its stored value is left alone.

    ``partition``: the one partition every staged point falls in (the usual case),
    upserted into directly: a row version whose ``xmax`` is 0 is one the upsert
    inserted. PostgreSQL does not return ``xmax`` from a partitioned table, so
    points of several months take two statements, each counting exactly what it
    did: the new points are inserted, then, unless every one was new, the others
    are updated where their value changed. After the first, every staged key exists,
    stored by this request or committed by another (an insert waits for a
    concurrent one of the same key), so the second only updates.
    """
    if partition is not None:
        statement = _UPSERT_INTO_PARTITION.format(partition=partition)
        row = (await session.execute(text(statement))).one()
        return int(row[0]), int(row[1]), frozenset(row[2] or ())
    staged, inserted, inserted_kpis = (await session.execute(_INSERT_NEW)).one()
    if inserted == staged:
        return int(inserted), 0, frozenset(inserted_kpis or ())
    updated, updated_kpis = (await session.execute(_UPDATE_CHANGED)).one()
    kpis = frozenset(inserted_kpis or ()) | frozenset(updated_kpis or ())
    return int(inserted), int(updated), kpis


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    kpi_id: UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    dimensions: Mapping[str, str],
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[Point], list[Any] | None]:
    statement = select(Point).where(Point.org_id == org_id, Point.kpi_id == kpi_id)
    if start is not None:
        statement = statement.where(Point.ts >= start)
    if end is not None:
        statement = statement.where(Point.ts < end)
    if dimensions:
        statement = statement.where(Point.dimensions.contains(dict(dimensions)))
    return await keyset_page(
        session,
        statement,
        order_by=[Point.ts, Point.dims_hash],
        sort_key=lambda point: [point.ts, point.dims_hash],
        after=after,
        limit=limit,
    )


async def dimension_names(
    session: AsyncSession,
    org_id: UUID,
    kpi_id: UUID,
    start: datetime | None,
    end: datetime | None,
) -> list[str]:
    statement = (
        select(func.jsonb_object_keys(Point.dimensions))
        .where(Point.org_id == org_id, Point.kpi_id == kpi_id)
        .distinct()
    )
    if start is not None:
        statement = statement.where(Point.ts >= start)
    if end is not None:
        statement = statement.where(Point.ts < end)
    return sorted((await session.scalars(statement)).all())


async def delete_range(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, start: datetime, end: datetime
) -> int:
    result = await session.execute(
        delete(Point).where(
            Point.org_id == org_id, Point.kpi_id == kpi_id, Point.ts >= start, Point.ts < end
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_all_of_kpi(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> None:
    await session.execute(delete(Point).where(Point.org_id == org_id, Point.kpi_id == kpi_id))
