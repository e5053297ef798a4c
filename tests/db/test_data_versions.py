"""Per-org data versions: bumped at commit by triggers, without making writers wait."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.models import Base
from perfapi.points import partitions
from perfapi.points.months import months_of
from tests.support import Tenant

# Tables no answer is read from, so writing them needs no new tag.
UNWATCHED = {
    "orgs",
    "idempotency_keys",
    "rollup_changes",
    "org_data_versions",
    "data_version_bumps",
    "kpi_point_versions",
    "kpi_point_version_bumps",
    "derived_event_marks",
    "kpi_status_states",
    "objective_progress_states",
    "webhook_fanout_marks",
    "webhook_endpoint_deliveries",
    "webhook_endpoint_attempts",
}

INSERT_KPI = text(
    "INSERT INTO kpis (org_id, id, key, name, direction, aggregation, tags) "
    "VALUES (:org, :id, :key, 'K', 'higher_is_better', 'sum', '{}')"
)


async def _version(session: AsyncSession, org_id: uuid.UUID) -> int | None:
    version: int | None = await session.scalar(
        text("SELECT version FROM org_data_versions WHERE org_id = :org"), {"org": org_id}
    )
    return version


async def _insert_kpi(session: AsyncSession, org_id: uuid.UUID) -> None:
    key = f"k{uuid.uuid4().hex[:8]}"
    await session.execute(INSERT_KPI, {"org": org_id, "id": uuid.uuid4(), "key": key})


async def test_every_table_answers_are_read_from_bumps_the_version(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT c.relname, array_agg(t.tgname ORDER BY t.tgname) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE '%data_version%' "
                "AND NOT c.relispartition GROUP BY c.relname"
            )
        )
        triggers = {table: names for table, names in rows}  # noqa: C416 (a Result has .keys())
    watched = {table.name for table in Base.metadata.sorted_tables} - UNWATCHED
    assert set(triggers) - {"data_version_bumps"} == watched
    for table in watched:
        # The event log's only update gives positions at the commit of the transaction
        # whose insert of those events already noted the org.
        events = ("delete", "insert") if table == "events" else ("delete", "insert", "update")
        assert triggers[table] == [f"{table}_data_version_{event}" for event in events]


# Each statement-level trigger of a table: name, events and timing (tgtype), function
# and arguments.
_STATEMENT_TRIGGERS = text(
    "SELECT c.relname, array_agg(ARRAY[t.tgname, t.tgtype::text, t.tgfoid::regproc::text,"
    " encode(t.tgargs, 'escape'), coalesce(t.tgnewtable, ''), coalesce(t.tgoldtable, '')]"
    " ORDER BY t.tgname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE (c.oid = 'points'::regclass OR c.oid IN"
    "   (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'points'::regclass))"
    " AND NOT t.tgisinternal AND t.tgtype & 1 = 0 GROUP BY c.relname"
)


async def test_every_partition_of_points_has_the_statement_triggers_of_points(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """PostgreSQL clones row-level triggers to partitions, not statement-level ones, and
    a statement addressed to a partition (the COPY of one month's points) fires only
    the partition's: each partition carries the same data version notes as points."""
    fresh = datetime(1907, 8, 1, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, months_of([fresh]))  # made at run time, too
    async with sessionmaker() as session:
        triggers = {
            table: list(found) for table, found in await session.execute(_STATEMENT_TRIGGERS)
        }
    parent = triggers.pop("points")
    assert [trigger[0] for trigger in parent] == [
        f"points_data_version_{event}" for event in ("delete", "insert", "update")
    ]
    assert "points_1907_08" in triggers
    assert all(found == parent for found in triggers.values()), triggers


async def test_a_write_addressed_to_a_partition_bumps_the_version(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    at = datetime(1907, 9, 3, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, months_of([at]))
    async with sessionmaker() as session:
        before = await _version(session, tenant.id)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO points_1907_09 (org_id, kpi_id, ts, dims_hash, value, dimensions) "
                "VALUES (:org, :kpi, :at, 0, 1, '{}')"
            ),
            {"org": tenant.id, "kpi": uuid.uuid4(), "at": at},
        )
    async with sessionmaker() as session:
        after = await _version(session, tenant.id)
        dated = await session.scalar(
            text("SELECT dated_until FROM org_data_versions WHERE org_id = :org"),
            {"org": tenant.id},
        )
    assert after is not None
    assert before is None or after > before
    assert dated == at


async def test_concurrent_writers_of_one_org_do_not_wait_for_each_other(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    async with sessionmaker() as session:
        before = await _version(session, tenant.id)
    async with sessionmaker() as first, sessionmaker() as second:
        await first.begin()
        await _insert_kpi(first, tenant.id)  # its note stays open until it commits
        async with second.begin():
            # Had the first writer locked the org's version, this would time out.
            await second.execute(text("SET LOCAL lock_timeout = '2s'"))
            await _insert_kpi(second, tenant.id)
        async with sessionmaker() as reader:
            after_second = await _version(reader, tenant.id)
        await first.commit()
    async with sessionmaker() as session:
        after_first = await _version(session, tenant.id)
        pending = await session.scalar(text("SELECT count(*) FROM data_version_bumps"))
    assert after_second is not None
    assert after_first is not None
    assert before is None or after_second > before
    assert after_first > after_second
    assert pending == 0


async def test_a_rolled_back_write_keeps_the_version(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    async with sessionmaker() as session:
        before = await _version(session, tenant.id)
    async with sessionmaker() as session:
        await session.begin()
        await _insert_kpi(session, tenant.id)
        await session.rollback()
    async with sessionmaker() as session:
        assert await _version(session, tenant.id) == before
        assert await session.scalar(text("SELECT count(*) FROM data_version_bumps")) == 0


async def test_points_note_the_latest_time_they_are_dated_at(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    kpi_id = uuid.uuid4()
    times = [datetime(2031, 5, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)]
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, months_of(times))  # what ingestion does first
        await session.execute(INSERT_KPI, {"org": tenant.id, "id": kpi_id, "key": "dated"})
        await session.execute(
            text(
                "INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions) "
                "SELECT :org, :kpi, ts, 0, 1, '{}' FROM unnest(CAST(:times AS timestamptz[])) ts"
            ),
            {"org": tenant.id, "kpi": kpi_id, "times": times},
        )
    async with sessionmaker() as session:
        dated = await session.scalar(
            text("SELECT dated_until FROM org_data_versions WHERE org_id = :org"),
            {"org": tenant.id},
        )
    assert dated == datetime(2031, 5, 1, tzinfo=UTC)


async def test_a_kpis_version_bump_takes_its_orgs_row_first(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """Every commit takes the org's data version row before any KPI's: a request that
    noted rollup changes before writing points must not take the KPI's row first, or
    two ingest requests of one org committing together can deadlock."""
    kpi_id = uuid.uuid4()
    note_change = text(
        "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "
        "VALUES (:org, :kpi, DATE '2026-01-01', DATE '2026-01-01')"
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(INSERT_KPI, {"org": tenant.id, "id": kpi_id, "key": "k"})
        await session.execute(note_change, {"org": tenant.id, "kpi": kpi_id})
    async with sessionmaker() as holder, sessionmaker() as writer:
        await holder.begin()
        await holder.execute(
            text("SELECT 1 FROM org_data_versions WHERE org_id = :org FOR UPDATE"),
            {"org": tenant.id},
        )
        await writer.begin()
        await writer.execute(text("SET LOCAL lock_timeout = '200ms'"))
        await writer.execute(note_change, {"org": tenant.id, "kpi": kpi_id})
        with pytest.raises(DBAPIError, match="lock timeout"):
            await writer.commit()
        await holder.rollback()
