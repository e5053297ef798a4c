"""Alembic migrations: the lock, the round trip, and the schema rules."""

import asyncio
from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from perfapi.db.migrate import alembic_config, migrate, migration_lock
from perfapi.models import Base
from perfapi.points.months import not_a_partition
from tests.support import fresh_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _version(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            version: str | None = await connection.scalar(
                text("SELECT version_num FROM alembic_version")
            )
            return version
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def test_concurrent_migrations_both_succeed(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "race") as url:
        await asyncio.gather(_migrate(url), _migrate(url), _migrate(url))
        assert await _version(url) == HEAD


async def test_a_held_lock_makes_migrations_wait(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "lock") as url:
        holder = create_async_engine(url)
        try:
            async with migration_lock(holder):
                waiting = asyncio.create_task(_migrate(url))
                done, _ = await asyncio.wait({waiting}, timeout=0.5)
                assert not done, "migrate() ran while another process held the lock"
                assert await _version_or_none(url) is None
            await waiting
        finally:
            await holder.dispose()
        assert await _version(url) == HEAD


async def _version_or_none(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            if exists is None:
                return None
            version: str | None = await connection.scalar(
                text("SELECT version_num FROM alembic_version")
            )
            return version
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "roundtrip") as url:
        await _migrate(url)
        engine = create_async_engine(url)
        try:

            def down(sync_connection: Connection) -> list[str]:
                config = alembic_config()
                config.attributes["connection"] = sync_connection
                command.downgrade(config, "base")
                return inspect(sync_connection).get_table_names()

            async with engine.connect() as connection:
                remaining = await connection.run_sync(down)
                await connection.commit()
            assert remaining == ["alembic_version"]
        finally:
            await engine.dispose()
        await _migrate(url)
        assert await _version(url) == HEAD


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:

            def differences(sync_connection: Connection) -> list[object]:
                # The monthly partitions of points are made at run time, by no migration.
                opts = {"compare_type": True, "include_name": not_a_partition}
                context = MigrationContext.configure(sync_connection, opts=opts)
                return list(compare_metadata(context, Base.metadata))

            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


# Indexes allowed not to lead with org_id, each with the reason in the model.
NOT_ORG_LED = {
    "api_keys_prefix_idx",
    "webhook_sources_id_idx",
    "webhook_endpoint_deliveries_due_idx",
}


@pytest.mark.parametrize("table", [t for t in Base.metadata.sorted_tables if t.name != "orgs"])
def test_org_id_leads_every_key_and_index(table: object) -> None:
    from sqlalchemy import Table

    assert isinstance(table, Table)
    assert next(iter(table.primary_key.columns)).name == "org_id"
    for index in table.indexes:
        if index.name not in NOT_ORG_LED:
            assert next(iter(index.columns)).name == "org_id", index.name
    for constraint in table.foreign_key_constraints:
        assert constraint.column_keys[0] == "org_id", constraint.name
    for unique in (c for c in table.constraints if type(c).__name__ == "UniqueConstraint"):
        assert next(iter(unique.columns)).name == "org_id", unique.name  # type: ignore[attr-defined]


# Every index of the database (partitioned ones, relkind 'I', and those of each
# partition included) with the first column of its key; NULL for an expression.
_INDEXES = text(
    "SELECT t.relname AS table_name, t.relkind::text AS table_kind,"
    " t.relispartition AS is_partition, i.relname AS index_name,"
    " i.relkind::text AS index_kind, a.attname AS first_column "
    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    "JOIN pg_class t ON t.oid = x.indrelid "
    "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
    "WHERE t.relnamespace = CAST(current_schema() AS regnamespace) "
    "AND t.relname NOT IN ('orgs', 'alembic_version')"
)
_FOREIGN_KEYS = text(
    "SELECT t.relname, c.conname, a.attname FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid "
    "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
    "WHERE c.contype = 'f' AND t.relnamespace = CAST(current_schema() AS regnamespace)"
)


async def test_org_id_leads_every_key_and_index_in_the_database(database_url: str) -> None:
    """What the model test checks, read from the catalog of a migrated database: it also
    sees the partitioned ``points`` and every partition of it (made by perfapi at run
    time, so absent from the models), whose keys and indexes must lead with org_id too."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            indexes = (await connection.execute(_INDEXES)).all()
            foreign_keys = (await connection.execute(_FOREIGN_KEYS)).all()
    finally:
        await engine.dispose()
    for table, _, _, index, _, first_column in indexes:
        if index not in NOT_ORG_LED:
            assert first_column == "org_id", (table, index)
    for table, constraint, first_column in foreign_keys:
        assert first_column == "org_id", (table, constraint)
    # The check did cover the partitioned table's key and its partitions' keys.
    partitioned = [row for row in indexes if row.table_kind == "p"]
    assert [(row.table_name, row.index_name, row.index_kind) for row in partitioned] == [
        ("points", "points_pkey", "I")
    ]
    partitions = {row.table_name for row in indexes if row.is_partition}
    assert partitions, "the migrated database has partitions of points"
    assert all(not_a_partition(name, "table", None) is False for name in partitions)


async def test_measures_stored_before_the_bound_are_clamped_and_refreshed(
    database_server_url: str,
) -> None:
    """Data a server stored before |x| <= 1e15 (1e308 overflowed every sum) is brought
    inside the bound, and the days of its points are queued for the rollups."""
    async with fresh_database(database_server_url, "bound") as url:
        engine = create_async_engine(url)
        try:

            def to(revision: str) -> Callable[[Connection], None]:
                def upgrade(sync_connection: Connection) -> None:
                    config = alembic_config()
                    config.attributes["connection"] = sync_connection
                    command.upgrade(config, revision)

                return upgrade

            async with engine.connect() as connection:
                await connection.run_sync(to("7c2e4b1f9a3d"))
                for statement in _LEGACY_ROWS.split(";"):
                    if statement.strip():
                        await connection.execute(text(statement))
                await connection.commit()
                await connection.run_sync(to("head"))
                await connection.commit()
                measures = await connection.execute(
                    text(
                        "SELECT (SELECT array_agg(value ORDER BY ts) FROM points), "
                        "(SELECT sum(value) FROM points), "
                        "(SELECT array_agg(value) FROM check_ins), "
                        "(SELECT array_agg(value) FROM kpi_targets), "
                        "(SELECT array[start_value, target_value, range_min, range_max] "
                        "FROM key_results)"
                    )
                )
                points, total, check_ins, targets, key_result = measures.one()
                changes = await connection.execute(
                    text("SELECT first_day, last_day FROM rollup_changes")
                )
                days = [(str(first), str(last)) for first, last in changes]
        finally:
            await engine.dispose()
    assert points == [1e15, 1e15, -1e15, 12.5, 1e15]
    assert total == 2e15 + 12.5
    assert check_ins == [-1e15]
    assert targets == [1e15]
    assert key_result == [-1e15, 1e15, None, 3.0]
    assert days == [("2026-03-03", "2026-03-05")]


_LEGACY_ROWS = """
INSERT INTO orgs (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'legacy');
INSERT INTO kpis (org_id, id, key, name, direction, aggregation, tags) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   'k', 'K', 'higher_is_better', 'sum', '{}');
INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '2026-03-03T01:00:00Z', 0, 1e308, '{}'),
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '2026-03-03T02:00:00Z', 0, 1e308, '{}'),
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '2026-03-04T02:00:00Z', 0, '-Infinity', '{}'),
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '2026-03-04T03:00:00Z', 0, 12.5, '{}'),
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '2026-03-05T23:00:00Z', 0, 'NaN', '{}');
INSERT INTO kpi_targets (org_id, id, kpi_id, period_start, period_end, value) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000b1',
   '00000000-0000-0000-0000-00000000000a', '2026-01-01', '2026-12-31', 1e300);
INSERT INTO objectives (org_id, id, title, start_date, due_date, weight, status) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000c1',
   'O', '2026-01-01', '2026-12-31', 1, 'active');
INSERT INTO key_results
  (org_id, id, objective_id, title, direction, start_value, target_value, range_max, weight)
VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1',
   '00000000-0000-0000-0000-0000000000c1', 'KR', 'increase', -1e200, 1e200, 3, 1);
INSERT INTO check_ins (org_id, id, key_result_id, value, at) VALUES
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000e1',
   '00000000-0000-0000-0000-0000000000d1', -1e301, '2026-03-03T00:00:00Z');
"""
