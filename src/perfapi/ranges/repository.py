# ruff: noqa: S608 -- statements are assembled from constant fragments; values are bound.
"""SQL of reads combining rollups with raw points: pending changes, and summaries of the
months, days and raw ranges a read needs."""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.aggregates import Partial, Summary
from perfapi.kit import driver
from perfapi.kit.driver import DriverStatement
from perfapi.ranges.plan import Block, RawRange
from perfapi.rollups.repository import POINT_X

_DIRTY_RANGES = DriverStatement.of(
    text(
        "SELECT kpi_id, greatest(first_day, CAST(:first_day AS date)),"
        " least(last_day, CAST(:last_day AS date))"
        " FROM rollup_changes WHERE org_id = :org_id AND kpi_id = ANY(CAST(:kpi_ids AS uuid[]))"
        " AND first_day <= CAST(:last_day AS date) AND last_day >= CAST(:first_day AS date)"
    )
)


async def dirty_ranges(
    session: AsyncSession,
    org_id: UUID,
    kpi_ids: Iterable[UUID],
    first_day: date,
    last_day: date,
) -> dict[UUID, list[tuple[date, date]]]:
    """Per KPI, the pending changes' day ranges, clipped to first_day..last_day: their
    rollups may be stale, so reads take them from raw points. Parked and retrying
    changes count too: their rollups are as stale as any."""
    rows = await driver.fetch(
        session,
        _DIRTY_RANGES,
        {
            "org_id": org_id,
            "kpi_ids": sorted(set(kpi_ids)),
            "first_day": first_day,
            "last_day": last_day,
        },
    )
    ranges: dict[UUID, list[tuple[date, date]]] = {}
    for kpi_id, first, last in rows:
        ranges.setdefault(kpi_id, []).append((first, last))
    return ranges


# Each part probes the index once per wanted period or block of a KPI, or per raw range,
# so its cost follows the probes and the rows they read, never the table's size.
# OFFSET 0 keeps PostgreSQL from flattening the LATERAL subquery into a join, which with
# statistics from before a bulk load it ran as a hash join over a sequential scan of the
# whole table.
_ONE_PROBE_EACH = " OFFSET 0"


def _query_part(table: str, period: str, dimension_filter: str) -> str:
    return (
        f"SELECT q.qi, sum(r.count), sum(r.sum), min(r.min), max(r.max), max(r.last_ts),"
        f" (array_agg(r.last_value ORDER BY r.last_ts DESC, r.dims_hash DESC))[1],"
        f" sum(r.sum_x), sum(r.sum_xx), sum(r.sum_xy) "
        f"FROM unnest(CAST(:{period}_qi AS int[]), CAST(:{period}_kpi AS uuid[]),"
        f" CAST(:{period}_at AS date[])) AS q(qi, kpi_id, at) "
        f"CROSS JOIN LATERAL (SELECT * FROM {table} r WHERE r.org_id = :org_id"
        f" AND r.kpi_id = q.kpi_id AND r.{period} = q.at{dimension_filter}{_ONE_PROBE_EACH}) r "
        "GROUP BY q.qi"
    )


async def aggregate_parts(
    session: AsyncSession,
    org_id: UUID,
    *,
    months: Sequence[tuple[int, UUID, date]],
    days: Sequence[tuple[int, UUID, date]],
    raw: Sequence[tuple[int, UUID, datetime, datetime]],
    dimensions: Mapping[str, str] | None,
) -> list[tuple[int, Partial]]:
    """Partial summaries per query index, from month and day rollups and raw ranges.

    One statement, so all three parts are read in one snapshot.
    """
    params: dict[str, Any] = {"org_id": org_id}
    for name, parts in (("month", months), ("day", days)):
        params[f"{name}_qi"] = [part[0] for part in parts]
        params[f"{name}_kpi"] = [part[1] for part in parts]
        params[f"{name}_at"] = [part[2] for part in parts]
    params["raw_qi"] = [part[0] for part in raw]
    params["raw_kpi"] = [part[1] for part in raw]
    params["raw_from"] = [part[2] for part in raw]
    params["raw_to"] = [part[3] for part in raw]
    rollup_filter = point_filter = ""
    if dimensions:
        params["dimensions"] = json.dumps(dict(dimensions))
        rollup_filter = " AND r.dimensions @> CAST(:dimensions AS jsonb)"
        point_filter = " AND p.dimensions @> CAST(:dimensions AS jsonb)"
    statement = (
        f"{_query_part('kpi_month_rollups', 'month', rollup_filter)} UNION ALL "
        f"{_query_part('kpi_day_rollups', 'day', rollup_filter)} UNION ALL "
        "SELECT q.qi, count(*), sum(p.value), min(p.value), max(p.value), max(p.ts),"
        " (array_agg(p.value ORDER BY p.ts DESC, p.dims_hash DESC))[1],"
        f" sum({POINT_X}), sum({POINT_X} * {POINT_X}), sum({POINT_X} * p.value) "
        "FROM unnest(CAST(:raw_qi AS int[]), CAST(:raw_kpi AS uuid[]),"
        " CAST(:raw_from AS timestamptz[]), CAST(:raw_to AS timestamptz[]))"
        " AS q(qi, kpi_id, t0, t1) "
        "CROSS JOIN LATERAL (SELECT p.ts, p.value, p.dims_hash FROM points p"
        " WHERE p.org_id = :org_id AND p.kpi_id = q.kpi_id"
        f" AND p.ts >= q.t0 AND p.ts < q.t1{point_filter}{_ONE_PROBE_EACH}) p "
        "GROUP BY q.qi"
    )
    rows = await session.execute(text(statement), params)
    return [
        (
            row[0],
            Partial(
                count=int(row[1]),
                sum=float(row[2]),
                min=row[3],
                max=row[4],
                last_ts=row[5],
                last_value=row[6],
                sum_x=float(row[7]),
                sum_xx=float(row[8]),
                sum_xy=float(row[9]),
            ),
        )
        for row in rows
    ]


ValueParts = dict[int, Summary]
"""Summaries of the points of each part read (month blocks, then day blocks, then raw
ranges, numbered in that order); a part without points is absent."""

_MONTHS, _DAYS, _RAW = 0, 1, 2
# Only what the aggregations read: no trend sums, and the value of the last point, which
# costs a sort per block, only for the blocks of KPIs asking for it. Sums of bigints are
# numeric in PostgreSQL: cast back, not decoded as Decimals.
_VALUES = "sum(r.count)::bigint, sum(r.sum), min(r.min), max(r.max), max(r.last_ts), NULL::float8"
_VALUES_WITH_LAST = (
    "sum(r.count)::bigint, sum(r.sum), min(r.min), max(r.max), max(r.last_ts),"
    " (array_agg(r.last_value ORDER BY r.last_ts DESC, r.dims_hash DESC))[1]"
)


def _block_part(kind: int, period: str, summary: str, condition: str) -> str:
    """One row per block that has points: (kind, block number from 1, summary)."""
    return (
        f"SELECT {kind}, q.block, {summary} "
        f"FROM unnest(CAST(:{period}_kpi AS uuid[]), CAST(:{period}_first AS date[]),"
        f" CAST(:{period}_last AS date[]), CAST(:{period}_with_last AS boolean[]))"
        f" WITH ORDINALITY AS q(kpi_id, first, last, with_last, block) "
        f"CROSS JOIN LATERAL (SELECT * FROM kpi_{period}_rollups r WHERE r.org_id = :org_id"
        f" AND r.kpi_id = q.kpi_id AND r.{period} BETWEEN q.first AND q.last"
        f"{condition}{_ONE_PROBE_EACH}) r "
        "GROUP BY q.block"
    )


# A block's KPI is filtered by a condition on the outer query's with_last, which
# PostgreSQL checks once per block, before reading any rollup.
_VALUE_PARTS = DriverStatement.of(
    text(
        " UNION ALL ".join(
            [
                _block_part(_MONTHS, "month", _VALUES, " AND NOT q.with_last"),
                _block_part(_MONTHS, "month", _VALUES_WITH_LAST, " AND q.with_last"),
                _block_part(_DAYS, "day", _VALUES, " AND NOT q.with_last"),
                _block_part(_DAYS, "day", _VALUES_WITH_LAST, " AND q.with_last"),
                f"SELECT {_RAW}, q.block, count(*), sum(p.value), min(p.value), max(p.value),"
                " max(p.ts), (array_agg(p.value ORDER BY p.ts DESC, p.dims_hash DESC))[1] "
                "FROM unnest(CAST(:raw_kpi AS uuid[]), CAST(:raw_from AS timestamptz[]),"
                " CAST(:raw_to AS timestamptz[])) WITH ORDINALITY AS q(kpi_id, t0, t1, block) "
                "CROSS JOIN LATERAL (SELECT p.ts, p.value, p.dims_hash FROM points p"
                " WHERE p.org_id = :org_id AND p.kpi_id = q.kpi_id"
                f" AND p.ts >= q.t0 AND p.ts < q.t1{_ONE_PROBE_EACH}) p "
                "GROUP BY q.block",
            ]
        )
    )
)


async def value_parts(
    session: AsyncSession,
    org_id: UUID,
    *,
    month_blocks: Sequence[Block],
    day_blocks: Sequence[Block],
    raw: Sequence[RawRange],
    with_last: set[UUID],
) -> ValueParts:
    """What the aggregations read of the month rollups of each block, the day rollups
    of each block and the raw points of each range: no trend sums, and the value of the
    last point only for the KPIs in ``with_last``.

    A report reading many KPIs over many periods reads thousands of these; the trend
    sums and the last values would be most of the work.
    """
    params: dict[str, Any] = {"org_id": org_id}
    for name, blocks in (("month", month_blocks), ("day", day_blocks)):
        params[f"{name}_kpi"] = [block[0] for block in blocks]
        params[f"{name}_first"] = [block[1] for block in blocks]
        params[f"{name}_last"] = [block[2] for block in blocks]
        params[f"{name}_with_last"] = [block[0] in with_last for block in blocks]
    params["raw_kpi"] = [part[0] for part in raw]
    params["raw_from"] = [part[1] for part in raw]
    params["raw_to"] = [part[2] for part in raw]
    rows = await driver.fetch(session, _VALUE_PARTS, params)
    # Each row under its part's number (WITH ORDINALITY counts from 1).
    first = (-1, len(month_blocks) - 1, len(month_blocks) + len(day_blocks) - 1)
    return {first[row[0]] + row[1]: Summary._make(row[2:]) for row in rows}


# What each aggregation reads of a day: count, sum, min, max and the last value (the
# latest point's, of the latest dimension set on a tie, as every other read picks it).
_DAY_VALUES = (
    "sum(r.count)::bigint, sum(r.sum), min(r.min), max(r.max),"
    " (array_agg(r.last_value ORDER BY r.last_ts DESC, r.dims_hash DESC))[1]"
)
_RAW_DAY_VALUES = (
    "count(*), sum(p.value), min(p.value), max(p.value),"
    " (array_agg(p.value ORDER BY p.ts DESC, p.dims_hash DESC))[1]"
)


@cache
def _day_values_statement(filtered: bool) -> DriverStatement:
    rollup_filter = " AND r.dimensions @> CAST(:dimensions AS jsonb)" if filtered else ""
    point_filter = " AND p.dimensions @> CAST(:dimensions AS jsonb)" if filtered else ""
    return DriverStatement.of(
        text(
            f"SELECT r.kpi_id, r.day, false, {_DAY_VALUES} FROM kpi_day_rollups r"
            " WHERE r.org_id = :org_id AND r.kpi_id = ANY(CAST(:kpi_ids AS uuid[]))"
            f" AND r.day >= :first_day AND r.day < :end_day{rollup_filter}"
            " GROUP BY r.kpi_id, r.day UNION ALL "
            f"SELECT q.kpi_id, (p.ts AT TIME ZONE 'UTC')::date, true, {_RAW_DAY_VALUES} "
            "FROM unnest(CAST(:raw_kpi AS uuid[]), CAST(:raw_from AS timestamptz[]),"
            " CAST(:raw_to AS timestamptz[])) AS q(kpi_id, t0, t1) "
            "CROSS JOIN LATERAL (SELECT p.ts, p.value, p.dims_hash FROM points p"
            " WHERE p.org_id = :org_id AND p.kpi_id = q.kpi_id"
            f" AND p.ts >= q.t0 AND p.ts < q.t1{point_filter}{_ONE_PROBE_EACH}) p "
            "GROUP BY q.kpi_id, 2"
        )
    )


async def day_values(
    session: AsyncSession,
    org_id: UUID,
    kpi_ids: Sequence[UUID],
    first_day: date,
    end_day: date,
    raw: Sequence[tuple[UUID, datetime, datetime]],
    dimensions: Mapping[str, str] | None,
) -> list[Any]:
    """Per KPI and UTC day in [first_day, end_day) with points: rows of (kpi_id, day,
    from_raw, count, sum, min, max, last_value), from the day rollups, and from raw
    points within the ``raw`` ranges (whole UTC days whose rollups may be stale: the
    caller drops the rollup rows of those days). One statement, so both are read in one
    snapshot; plain driver rows, as two years of days of every KPI are many."""
    params: dict[str, Any] = {
        "org_id": org_id,
        "kpi_ids": list(kpi_ids),
        "first_day": first_day,
        "end_day": end_day,
        "raw_kpi": [part[0] for part in raw],
        "raw_from": [part[1] for part in raw],
        "raw_to": [part[2] for part in raw],
    }
    if dimensions:
        params["dimensions"] = json.dumps(dict(dimensions))
    return await driver.fetch(session, _day_values_statement(bool(dimensions)), params)
