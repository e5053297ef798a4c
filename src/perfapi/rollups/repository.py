# ruff: noqa: S608 -- statements are assembled from constant fragments; values are bound.
"""SQL of rollups: the change log and recomputation (reads are ``perfapi.ranges``).

x in the least-squares sums is days since 2000-01-01 UTC, as in ``domain.aggregates``.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

# x of a point ``p``, for the least-squares sums.
POINT_X = "(extract(epoch FROM p.ts - timestamptz '2000-01-01 00:00:00+00') / 86400.0)"

# Namespace of the per-KPI advisory locks that serialise recomputation.
_RECOMPUTE_LOCK_NAMESPACE = 0x726F6C6C  # "roll"


async def record_changes(
    session: AsyncSession,
    org_id: UUID,
    kpi_ids: Iterable[UUID],
    first_day: date,
    last_day: date,
) -> None:
    """Note that these KPIs' points changed between the two UTC days (inclusive)."""
    await session.execute(
        text(
            "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
            "SELECT :org_id, kpi_id, :first_day, :last_day FROM unnest(CAST(:kpi_ids AS uuid[])) "
            "AS changed(kpi_id)"
        ),
        {
            "org_id": org_id,
            "kpi_ids": sorted(kpi_ids),
            "first_day": first_day,
            "last_day": last_day,
        },
    )


async def record_staged_changes(session: AsyncSession) -> None:
    """The change log entries of the points in the ingestion staging table."""
    await session.execute(
        text(
            "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
            "SELECT org_id, kpi_id, min((ts AT TIME ZONE 'UTC')::date), "
            "max((ts AT TIME ZONE 'UTC')::date) FROM points_staging GROUP BY org_id, kpi_id"
        )
    )


class ClaimedChange(NamedTuple):
    org_id: UUID
    id: int
    kpi_id: UUID
    first_day: date
    last_day: date
    attempts: int


async def claim_changes(
    session: AsyncSession, org_id: UUID | None, limit: int, now: datetime
) -> list[ClaimedChange]:
    """Changes due at ``now``, oldest first, locked; those another refresher holds are
    skipped, and so are parked ones and those waiting out a retry delay."""
    where = "AND org_id = :org_id " if org_id is not None else ""
    rows = await session.execute(
        text(
            "SELECT org_id, id, kpi_id, first_day, last_day, attempts FROM rollup_changes "
            "WHERE parked_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= :now) "
            f"{where}ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"org_id": org_id, "limit": limit, "now": now},
    )
    return [ClaimedChange(*row) for row in rows]


async def lock_kpi_for_recompute(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> None:
    await session.execute(
        select(
            func.pg_advisory_xact_lock(
                _RECOMPUTE_LOCK_NAMESPACE, func.hashtext(f"{org_id}:{kpi_id}")
            )
        )
    )


async def recompute_range(
    session: AsyncSession, org_id: UUID, kpi_id: UUID, first_day: date, last_day: date
) -> None:
    """Rebuild the day rollups of the UTC days first_day..last_day from raw points, then
    their months.

    One index range scan of the KPI's points in the range: the cost follows the
    points there, not the number of days, so a change spanning centuries with a
    handful of points in it is as cheap as those points.
    """
    params = {"org_id": org_id, "kpi_id": kpi_id, "first_day": first_day, "last_day": last_day}
    await session.execute(
        text(
            "DELETE FROM kpi_day_rollups WHERE org_id = :org_id AND kpi_id = :kpi_id"
            " AND day BETWEEN CAST(:first_day AS date) AND CAST(:last_day AS date)"
        ),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO kpi_day_rollups (org_id, kpi_id, day, dims_hash, dimensions, count, sum,"
            " min, max, last_ts, last_value, sum_x, sum_xx, sum_xy) "
            "SELECT p.org_id, p.kpi_id, (p.ts AT TIME ZONE 'UTC')::date, p.dims_hash,"
            " (array_agg(p.dimensions))[1], count(*), sum(p.value), min(p.value), max(p.value),"
            " max(p.ts), (array_agg(p.value ORDER BY p.ts DESC))[1],"
            f" sum({POINT_X}), sum({POINT_X} * {POINT_X}), sum({POINT_X} * p.value) "
            "FROM points p WHERE p.org_id = :org_id AND p.kpi_id = :kpi_id"
            " AND p.ts >= CAST(:first_day AS date)::timestamp AT TIME ZONE 'UTC'"
            " AND p.ts < (CAST(:last_day AS date) + 1)::timestamp AT TIME ZONE 'UTC' "
            "GROUP BY p.org_id, p.kpi_id, (p.ts AT TIME ZONE 'UTC')::date, p.dims_hash"
        ),
        params,
    )
    months = (
        "date_trunc('month', CAST(:first_day AS date))::date",
        "date_trunc('month', CAST(:last_day AS date))::date",
    )
    await session.execute(
        text(
            "DELETE FROM kpi_month_rollups WHERE org_id = :org_id AND kpi_id = :kpi_id"
            f" AND month BETWEEN {months[0]} AND {months[1]}"
        ),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO kpi_month_rollups (org_id, kpi_id, month, dims_hash, dimensions, count,"
            " sum, min, max, last_ts, last_value, sum_x, sum_xx, sum_xy) "
            "SELECT org_id, kpi_id, date_trunc('month', day)::date, dims_hash,"
            " (array_agg(dimensions))[1], sum(count), sum(sum), min(min), max(max), max(last_ts),"
            " (array_agg(last_value ORDER BY last_ts DESC))[1], sum(sum_x), sum(sum_xx),"
            " sum(sum_xy) "
            "FROM kpi_day_rollups WHERE org_id = :org_id AND kpi_id = :kpi_id"
            f" AND day >= {months[0]} AND day < ({months[1]} + interval '1 month')::date "
            "GROUP BY org_id, kpi_id, date_trunc('month', day)::date, dims_hash"
        ),
        params,
    )


async def forget_changes(session: AsyncSession, org_id: UUID, ids: Sequence[int]) -> None:
    await session.execute(
        text(
            "DELETE FROM rollup_changes WHERE org_id = :org_id AND id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"org_id": org_id, "ids": list(ids)},
    )


async def record_failures(
    session: AsyncSession,
    org_id: UUID,
    failed: Sequence[tuple[int, int, datetime | None, datetime | None]],
    error: str,
) -> None:
    """Store each change's (id, attempts, next_attempt_at, parked_at) after a failed try."""
    await session.execute(
        text(
            "UPDATE rollup_changes c SET attempts = f.attempts, last_error = :error,"
            " next_attempt_at = f.next_attempt_at, parked_at = f.parked_at "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]),"
            " CAST(:next_attempt_at AS timestamptz[]), CAST(:parked_at AS timestamptz[]))"
            " AS f(id, attempts, next_attempt_at, parked_at) "
            "WHERE c.org_id = :org_id AND c.id = f.id"
        ),
        {
            "org_id": org_id,
            "error": error,
            "ids": [change[0] for change in failed],
            "attempts": [change[1] for change in failed],
            "next_attempt_at": [change[2] for change in failed],
            "parked_at": [change[3] for change in failed],
        },
    )


class ParkedChange(NamedTuple):
    org_name: str
    org_id: UUID
    kpi_key: str | None  # None once the KPI is gone
    kpi_id: UUID
    id: int
    first_day: date
    last_day: date
    attempts: int
    parked_at: datetime
    last_error: str | None


def _parked(org_id: UUID | None, kpi: str | None) -> tuple[str, dict[str, Any]]:
    """The condition selecting parked changes, of one org and of one KPI (key or id)."""
    condition = "c.parked_at IS NOT NULL"
    if org_id is not None:
        condition += " AND c.org_id = :org_id"
    if kpi is not None:
        condition += (
            " AND (CAST(c.kpi_id AS text) = :kpi OR EXISTS (SELECT FROM kpis k"
            " WHERE k.org_id = c.org_id AND k.id = c.kpi_id AND k.key = :kpi))"
        )
    return condition, {"org_id": org_id, "kpi": kpi}


async def list_parked(
    session: AsyncSession, org_id: UUID | None, kpi: str | None, limit: int
) -> list[ParkedChange]:
    condition, params = _parked(org_id, kpi)
    rows = await session.execute(
        text(
            "SELECT o.name, c.org_id, k.key, c.kpi_id, c.id, c.first_day, c.last_day,"
            " c.attempts, c.parked_at, c.last_error FROM rollup_changes c"
            " JOIN orgs o ON o.id = c.org_id"
            " LEFT JOIN kpis k ON k.org_id = c.org_id AND k.id = c.kpi_id"
            f" WHERE {condition} ORDER BY o.name, c.kpi_id, c.id LIMIT :limit"
        ),
        params | {"limit": limit},
    )
    return [ParkedChange(*row) for row in rows]


async def count_parked(
    session: AsyncSession, org_id: UUID | None = None, kpi: str | None = None
) -> int:
    condition, params = _parked(org_id, kpi)
    count: int = await session.scalar(
        text(f"SELECT count(*) FROM rollup_changes c WHERE {condition}"), params
    )
    return count


async def unpark(session: AsyncSession, org_id: UUID | None, kpi: str | None) -> int:
    """Make parked changes due now with a fresh count of tries; return how many.

    The last error stays, so a change that fails again can be compared with before.
    """
    condition, params = _parked(org_id, kpi)
    result = await session.execute(
        text(
            "UPDATE rollup_changes c SET parked_at = NULL, next_attempt_at = NULL, attempts = 0"
            f" WHERE {condition}"
        ),
        params,
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_kpi_rollups(session: AsyncSession, org_id: UUID, kpi_id: UUID) -> None:
    for table in ("kpi_day_rollups", "kpi_month_rollups", "rollup_changes", "kpi_point_versions"):
        await session.execute(
            text(f"DELETE FROM {table} WHERE org_id = :org_id AND kpi_id = :kpi_id"),
            {"org_id": org_id, "kpi_id": kpi_id},
        )


async def forget_days(
    session: AsyncSession, first_day: date, end_day: date
) -> set[tuple[UUID, UUID]]:
    """Delete every KPI's day and month rollups of [first_day, end_day) (whole months,
    whose points were dropped); the (org_id, kpi_id) that had points there.

    Those are the KPIs with rollups there and those with a change there still
    pending (parked included). Pending changes stay: recomputed, they find no points
    and leave nothing, at the cost of the points they find. Rollups are found per
    KPI through the primary key, so the cost follows the KPIs and the month's rows,
    not the tables' size.
    """
    params = {"first_day": first_day, "end_day": end_day}
    rows = await session.execute(
        text(
            "WITH days AS ("
            "  DELETE FROM kpi_day_rollups r USING kpis k"
            "  WHERE r.org_id = k.org_id AND r.kpi_id = k.id"
            "  AND r.day >= :first_day AND r.day < :end_day"
            "  RETURNING r.org_id, r.kpi_id"
            "), months AS ("
            "  DELETE FROM kpi_month_rollups r USING kpis k"
            "  WHERE r.org_id = k.org_id AND r.kpi_id = k.id"
            "  AND r.month >= :first_day AND r.month < :end_day"
            "  RETURNING r.org_id, r.kpi_id"
            ") SELECT org_id, kpi_id FROM days UNION SELECT org_id, kpi_id FROM months "
            "UNION SELECT org_id, kpi_id FROM rollup_changes"
            " WHERE first_day < :end_day AND last_day >= :first_day"
        ),
        params,
    )
    return {(org_id, kpi_id) for org_id, kpi_id in rows}


async def point_versions(
    session: AsyncSession, org_id: UUID, kpi_ids: Sequence[UUID]
) -> dict[UUID, int]:
    """The points version of each of these KPIs that has one (none: never written)."""
    if not kpi_ids:
        return {}
    result = await session.execute(
        text(
            "SELECT kpi_id, version FROM kpi_point_versions "
            "WHERE org_id = :org_id AND kpi_id = ANY(CAST(:kpi_ids AS uuid[]))"
        ),
        {"org_id": org_id, "kpi_ids": list(kpi_ids)},
    )
    return {row.kpi_id: row.version for row in result}
