"""SQL of points: COPY fast path, staging and merge, reads and deletes."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import keyset_page
from perfapi.models import Kpi, Point
from perfapi.points.decoding import Entry

POINT_COLUMNS = ("org_id", "kpi_id", "ts", "dims_hash", "value", "dimensions")
STAGING_TABLE = "points_staging"
STAGING_COLUMNS = ("pos", "kpi_id", "ts", "dims_hash", "value", "dimensions")


async def _driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection, for COPY (SQLAlchemy has no COPY API)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def kpi_ids_by_key(session: AsyncSession, org_id: UUID) -> dict[str, UUID]:
    rows = await session.execute(select(Kpi.key, Kpi.id).where(Kpi.org_id == org_id))
    # Not dict(rows): a Result has .keys(), so dict() would take it for a mapping.
    return {key: kpi_id for key, kpi_id in rows.tuples()}  # noqa: C416


async def lock_kpis(session: AsyncSession, org_id: UUID, kpi_ids: Iterable[UUID]) -> None:
    """FOR KEY SHARE on the KPIs written to: a concurrent KPI delete waits for us."""
    await session.execute(
        select(Kpi.id)
        .where(Kpi.org_id == org_id, Kpi.id.in_(list(kpi_ids)))
        .order_by(Kpi.id)
        .with_for_update(key_share=True)
    )


async def any_point_in_ranges(
    session: AsyncSession, org_id: UUID, ranges: Mapping[UUID, tuple[datetime, datetime]]
) -> bool:
    """Whether any stored point of these KPIs lies in its KPI's [first, last] time range."""
    conditions = [
        and_(Point.kpi_id == kpi_id, Point.ts >= first, Point.ts <= last)
        for kpi_id, (first, last) in ranges.items()
    ]
    found = await session.scalar(select(exists().where(Point.org_id == org_id, or_(*conditions))))
    return bool(found)


async def copy_points(session: AsyncSession, org_id: UUID, entries: Sequence[Entry]) -> None:
    """COPY new points straight into the table (raises UniqueViolationError on a clash)."""
    driver = await _driver(session)
    await driver.copy_records_to_table(
        "points",
        records=[(org_id, *row) for _, _, row in entries],
        columns=POINT_COLUMNS,
    )


async def create_staging(session: AsyncSession) -> None:
    await session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS points_staging ("
            "pos integer, kpi_id uuid, ts timestamptz, dims_hash bigint, "
            "value double precision, dimensions jsonb) ON COMMIT DROP"
        )
    )


async def copy_to_staging(session: AsyncSession, entries: Sequence[Entry]) -> None:
    driver = await _driver(session)
    await driver.copy_records_to_table(
        STAGING_TABLE,
        records=[(position, *row) for _, position, row in entries],
        columns=STAGING_COLUMNS,
    )


async def staged_kpi_ids(session: AsyncSession) -> list[UUID]:
    result = await session.scalars(text("SELECT DISTINCT kpi_id FROM points_staging"))
    return list(result.all())


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


async def merge_staging(session: AsyncSession, org_id: UUID) -> tuple[int, int, int]:
    """Upsert the staged points: (distinct points, inserted, updated).

    Rows are merged in key order, so concurrent merges lock rows in the same order
    and cannot deadlock. A point re-sent with its stored value is left alone.
    """
    row = (
        await session.execute(
            text(
                "WITH distinct_points AS ("
                "  SELECT DISTINCT ON (kpi_id, ts, dims_hash)"
                "         kpi_id, ts, dims_hash, value, dimensions"
                "  FROM points_staging ORDER BY kpi_id, ts, dims_hash, pos"
                "), merged AS ("
                "  INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)"
                "  SELECT :org_id, kpi_id, ts, dims_hash, value, dimensions FROM distinct_points"
                "  ON CONFLICT (org_id, kpi_id, ts, dims_hash) DO UPDATE"
                "    SET value = EXCLUDED.value, dimensions = EXCLUDED.dimensions"
                "    WHERE points.value IS DISTINCT FROM EXCLUDED.value"
                "  RETURNING (xmax = 0) AS inserted"
                ") SELECT (SELECT count(*) FROM distinct_points),"
                "  count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
                " FROM merged"
            ),
            {"org_id": org_id},
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def truncate_staging(session: AsyncSession) -> None:
    await session.execute(text("TRUNCATE points_staging"))


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
