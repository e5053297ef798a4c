"""Point rows encoded for binary COPY read back from PostgreSQL exactly as they went in."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.points.copy_binary import (
    COPY_COLUMNS,
    STAGING_COPY_COLUMNS,
    encode_rows,
    encode_staged_rows,
)
from perfapi.points.records import NO_DIMENSIONS, PointRow, dimensions_key

ORG, KPI_A, KPI_B = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
INDIA = timezone(timedelta(hours=5, minutes=30))
LABELS = dimensions_key({"team": 'émea "north"', "région": "Zürich\\1"})


def row(kpi: uuid.UUID, ts: datetime, value: float, labels: tuple[int, str]) -> PointRow:
    return (ORG, kpi, ts, labels[0], value, labels[1])


# The edges of what points accept: the first and last supported instants, offsets,
# microseconds, signed zero, the largest and the smallest floats, and labels hashed to
# the extremes of a signed 64-bit integer (the same labels text under several hashes).
ROWS = [
    row(KPI_A, datetime(1900, 1, 1, tzinfo=UTC), -0.0, NO_DIMENSIONS),
    row(KPI_A, datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), 1e300, LABELS),
    row(KPI_A, datetime(2000, 1, 1, tzinfo=UTC), -1e300, LABELS),
    row(KPI_B, datetime(2026, 3, 29, 2, 30, 0, 1, tzinfo=INDIA), 5e-324, LABELS),
    row(KPI_B, datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), 42.5, NO_DIMENSIONS),
    (ORG, KPI_B, datetime(2026, 1, 1, tzinfo=UTC), -(2**63), 1.0, LABELS[1]),
    (ORG, KPI_B, datetime(2026, 1, 2, tzinfo=UTC), 2**63 - 1, 2.0, LABELS[1]),
]


async def copied_back(session: AsyncSession, data: bytes, columns: tuple[str, ...]) -> list[Any]:
    # Through the session first: that opens its transaction, which the table lives in.
    await session.execute(
        text(
            "CREATE TEMP TABLE copied (pos integer, org_id uuid, kpi_id uuid, ts timestamptz, "
            "dims_hash bigint, value double precision, dimensions jsonb) ON COMMIT DROP"
        )
    )
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    await driver.copy_to_table("copied", source=memoryview(data), columns=columns, format="binary")
    return list(
        await driver.fetch(
            "SELECT pos, org_id, kpi_id, ts, dims_hash, value, dimensions::text FROM copied "
            "ORDER BY ctid"
        )
    )


def as_stored(point: PointRow) -> tuple[Any, ...]:
    org_id, kpi_id, ts, dims_hash, value, dimensions = point
    return (org_id, kpi_id, ts, dims_hash, value, json.loads(dimensions))


def read(record: Any) -> tuple[Any, ...]:
    *columns, dimensions = tuple(record)[1:]
    return (*columns, json.loads(dimensions))


async def test_rows_read_back_as_written(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        stored = await copied_back(session, encode_rows(ROWS), COPY_COLUMNS)
    assert [read(record) for record in stored] == [as_stored(point) for point in ROWS]
    assert all(record["pos"] is None for record in stored)
    # The same instant, whatever offset it was sent with; signed zero kept.
    assert stored[3]["ts"] == datetime(2026, 3, 28, 21, 0, 0, 1, tzinfo=UTC)
    assert str(stored[0]["value"]) == "-0.0"


async def test_staged_rows_keep_their_positions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    positions = [7, 0, 2**31 - 1, 3, 1, 5, 4]
    async with sessionmaker() as session, session.begin():
        stored = await copied_back(
            session, encode_staged_rows(positions, ROWS), STAGING_COPY_COLUMNS
        )
    assert [record["pos"] for record in stored] == positions
    assert [read(record) for record in stored] == [as_stored(point) for point in ROWS]


async def test_no_rows_is_an_empty_copy(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        assert await copied_back(session, encode_rows([]), COPY_COLUMNS) == []
