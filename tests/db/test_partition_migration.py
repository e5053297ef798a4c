"""The migration that partitions ``points`` by month: rows, key, triggers, grants and
comments survive it, and its downgrade."""

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from perfapi.db.migrate import alembic_config
from perfapi.points.months import month_of, partition_name
from tests.support import fresh_database

BEFORE = "d5a7c9e1f3b4"
PARTITIONED = "e8f1a3c5b7d9"

# Both ends of the span points may have, a month's last instant, an offset that moves a
# point into the next UTC month, and two points in one month.
TIMES = (
    "1900-01-01T00:00:00Z",
    "1999-12-31T23:30:00-01:00",  # 2000-01-01T00:30Z
    "2026-03-03T01:00:00Z",
    "2026-03-31T23:59:59.999999Z",
    "2999-12-31T23:59:59Z",
)

LEGACY = """
INSERT INTO orgs (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'legacy');
INSERT INTO kpis (org_id, id, key, name, direction, aggregation, tags) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   'k', 'K', 'higher_is_better', 'sum', '{}');
INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)
  SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
         CAST(t AS timestamptz), n, n * 1.5, jsonb_build_object('n', n)
  FROM unnest(CAST(:times AS text[])) WITH ORDINALITY AS sent(t, n);
COMMENT ON TABLE points IS 'measurements';
COMMENT ON COLUMN points.value IS 'the measure';
GRANT SELECT ON points TO PUBLIC;
GRANT UPDATE (value) ON points TO PUBLIC;
ALTER TABLE points ALTER COLUMN dimensions SET STATISTICS 500
"""

ROWS = text(
    "SELECT org_id::text, kpi_id::text, ts, dims_hash, value, dimensions::text FROM points "
    "ORDER BY ts"
)
WHERE_EACH_ROW_IS = text("SELECT tableoid::regclass::text, ts FROM points ORDER BY ts")
SHAPE = text(
    "SELECT c.relkind::text, obj_description(c.oid, 'pg_class'),"
    " col_description(c.oid, (SELECT attnum FROM pg_attribute"
    "   WHERE attrelid = c.oid AND attname = 'value')),"
    " has_table_privilege('public', 'points', 'SELECT'),"
    " has_column_privilege('public', 'points', 'value', 'UPDATE'),"
    " has_column_privilege('public', 'points', 'ts', 'UPDATE'),"
    " (SELECT attstattarget FROM pg_attribute WHERE attrelid = c.oid AND attname = 'dimensions'),"
    " (SELECT array_agg(tgname ORDER BY tgname) FROM pg_trigger"
    "   WHERE tgrelid = c.oid AND NOT tgisinternal),"
    " (SELECT array_agg(a.attname ORDER BY k.ordinality) FROM pg_index x"
    "   CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ordinality)"
    "   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
    "   WHERE x.indrelid = c.oid AND x.indisprimary)"
    " FROM pg_class c WHERE c.oid = 'points'::regclass"
)
TRIGGERS = [f"points_data_version_{event}" for event in ("delete", "insert", "update")]


def _to(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def run(sync_connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    return run


async def _shape(connection: AsyncConnection) -> tuple[object, ...]:
    return tuple((await connection.execute(SHAPE)).one())


async def test_points_with_data_become_monthly_partitions_and_back(
    database_server_url: str,
) -> None:
    async with fresh_database(database_server_url, "partitions") as url:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_to(BEFORE))
                for statement in LEGACY.split(";"):
                    params = {"times": list(TIMES)} if ":times" in statement else {}
                    await connection.execute(text(statement), params)
                await connection.commit()
                rows = (await connection.execute(ROWS)).all()
                plain = await _shape(connection)

                await connection.run_sync(_to(PARTITIONED))
                await connection.commit()
                assert (await connection.execute(ROWS)).all() == rows
                placed = (await connection.execute(WHERE_EACH_ROW_IS)).all()
                partitioned = await _shape(connection)
                partitions = set(
                    (
                        await connection.execute(
                            text(
                                "SELECT c.relname FROM pg_inherits i "
                                "JOIN pg_class c ON c.oid = i.inhrelid "
                                "WHERE i.inhparent = 'points'::regclass"
                            )
                        )
                    ).scalars()
                )

                await connection.run_sync(_to(BEFORE, down=True))
                await connection.commit()
                assert (await connection.execute(ROWS)).all() == rows
                downgraded = await _shape(connection)
                left = await connection.scalar(
                    text("SELECT count(*) FROM pg_class WHERE relname ~ '^points_[0-9]{4}_'")
                )
        finally:
            await engine.dispose()

    assert len(rows) == len(TIMES)
    key = ["org_id", "kpi_id", "ts", "dims_hash"]
    kept = ("measurements", "the measure", True, True, False, 500, TRIGGERS, key)
    assert plain == ("r", *kept)
    assert partitioned == ("p", *kept)
    assert downgraded == ("r", *kept)
    # Each row sits in the partition of its UTC month.
    assert [name for name, _ in placed] == [partition_name(month_of(ts)) for _, ts in placed]
    assert [name for name, _ in placed] == [
        "points_1900_01",
        "points_2000_01",
        "points_2026_03",
        "points_2026_03",
        "points_2999_12",
    ]
    # The months of the rows, and the current month with the next three.
    current = month_of(datetime.now(UTC))
    ahead = {partition_name(month) for month in range(current, current + 4)}
    assert partitions == {name for name, _ in placed} | ahead
    assert left == 0  # the downgrade leaves no partition behind
