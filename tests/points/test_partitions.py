"""Monthly partitions of points: made as points arrive, made ahead, dropped past the
retention, and never in the way of readers."""

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from perfapi.config import Settings
from perfapi.db.migrate import migrate
from perfapi.ops.metrics import PartitionMetrics
from perfapi.points import partition_maintenance, partitions
from perfapi.points import partition_repository as repository
from perfapi.points.months import Month, month_of
from perfapi.points.partition_maintenance import maintenance_round
from perfapi.points.partitions import PROCESS_MONTHS, KnownMonths
from perfapi.rollups.service import refresh
from tests.points.helpers import (
    NDJSON,
    count_points,
    counts,
    create_kpi,
    list_points,
    ndjson,
    ndjson_lines,
    post_body,
    post_json,
)
from tests.support import Tenant, fresh_database

KPI = "sales.mrr"


def month(year: int, number: int) -> Month:
    return year * 12 + number - 1


async def drop(sessionmaker: async_sessionmaker[AsyncSession], *months: Month) -> None:
    """Start without these partitions (the test database is shared by every test)."""
    async with sessionmaker() as session, session.begin():
        await repository.lock_partitions(session)
        for gone in await repository.existing(session, months):
            await repository.detach_and_drop(session, gone)
        for gone in months:
            PROCESS_MONTHS.of(session).discard(gone)


async def existing(
    sessionmaker: async_sessionmaker[AsyncSession], months: Iterable[Month]
) -> set[Month]:
    async with sessionmaker() as session:
        return await repository.existing(session, months)


async def placed(sessionmaker: async_sessionmaker[AsyncSession], kpi_id: str) -> list[str]:
    """The partition each of the KPI's points is stored in, by time."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT tableoid::regclass::text FROM points WHERE kpi_id = :kpi ORDER BY ts"),
            {"kpi": uuid.UUID(kpi_id)},
        )
        return list(rows.scalars())


async def until_waiting(
    sessionmaker: async_sessionmaker[AsyncSession],
    waiters: int,
    tasks: Iterable[asyncio.Task[Any]] = (),
) -> None:
    """Return once ``waiters`` sessions wait on a lock; fail if a task ends first."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(5000):
        finished = [task for task in tasks if task.done()]
        assert not finished, [task.result() for task in finished]
        async with sessionmaker() as session:
            if await session.scalar(waiting) >= waiters:
                return
    raise AssertionError(f"{waiters} sessions never waited on a lock")


class Counted(PartitionMetrics):
    """Partition metrics on a registry of their own, read by name."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        super().__init__(self.registry)

    def __getitem__(self, name: str) -> float:
        return self.registry.get_sample_value(f"perfapi_points_{name}_total") or 0.0


def fresh_metrics() -> Counted:
    return Counted()


def with_(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


# --- made as points arrive --------------------------------------------------------


async def test_one_request_makes_an_old_and_a_far_future_month(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old, future, after = month(1901, 2), month(2998, 6), month(2998, 7)
    await drop(sessionmaker, old, future, after)
    kpi_id = await create_kpi(client, tenant, KPI)
    sent = [
        {"kpi": KPI, "ts": "1901-02-10T12:00:00Z", "value": 1.0},
        # 2998-06-30T23:00Z: the UTC month decides, not the month as written.
        {"kpi": KPI, "ts": "2998-07-01T01:00:00+02:00", "value": 2.0},
    ]
    assert counts(await post_json(client, tenant, sent))["inserted"] == 2
    assert await existing(sessionmaker, [old, future, after]) == {old, future}
    assert await placed(sessionmaker, kpi_id) == ["points_1901_02", "points_2998_06"]
    stored = await list_points(client, tenant, kpi_id)
    assert [item["value"] for item in stored] == [1.0, 2.0]


async def test_a_staged_request_makes_the_months_it_merges_into(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """More than one batch: staged, then merged; the months come from the staging table."""
    new = month(1902, 3)
    await drop(sessionmaker, new)
    kpi_id = await create_kpi(client, tenant, KPI)
    lines = ndjson_lines(KPI, 10_000)  # minutes of 2026-01
    lines.append(ndjson([{"kpi": KPI, "ts": "1902-03-05T00:00:00Z", "value": 7.0}]))
    reply = counts(await post_body(client, tenant, b"".join(lines), NDJSON))
    assert reply["inserted"] == 10_001
    assert await existing(sessionmaker, [new]) == {new}
    assert await count_points(sessionmaker, kpi_id) == 10_001
    assert (await placed(sessionmaker, kpi_id))[0] == "points_1902_03"


def _two_months(value: float, minutes: range) -> list[dict[str, Any]]:
    """Points of one KPI in two months, a minute apart in each."""
    return [
        {"kpi": KPI, "ts": f"{day}T00:{minute:02d}:00Z", "value": value}
        for day in ("1909-11-30", "2026-01-02")
        for minute in minutes
    ]


async def test_a_merge_across_months_counts_inserts_and_updates_exactly(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Points of several months are merged through ``points`` in two statements."""
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, _two_months(1.0, range(10))))["inserted"] == 20
    # Minutes 0-4 unchanged, 5-9 changed, 10-14 new, in both months.
    sent = _two_months(1.0, range(5)) + _two_months(2.0, range(5, 15))
    assert counts(await post_json(client, tenant, sent)) == {
        "received": 30,
        "inserted": 10,
        "updated": 10,
        "unchanged": 10,
    }
    stored = await list_points(client, tenant, kpi_id)
    assert sorted(item["value"] for item in stored) == [1.0] * 10 + [2.0] * 20


async def test_concurrent_merges_across_months_store_each_point_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, _two_months(0.0, range(1))))["inserted"] == 2
    bodies = [
        _two_months(float(number), range(10 * number, 10 * number + 30)) for number in range(4)
    ]
    replies = await asyncio.gather(*(post_json(client, tenant, body) for body in bodies))
    results = [counts(reply) for reply in replies]
    distinct = 2 * (10 * 3 + 30)
    assert sum(result["inserted"] for result in results) == distinct - 2  # each point once
    assert len(await list_points(client, tenant, kpi_id)) == distinct


async def test_two_ingests_into_one_new_month_both_succeed(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Both find the month missing and wait for the creators' lock (held here until both
    wait); the first makes the month, the second finds it made and writes into it."""
    new = month(1903, 4)
    await drop(sessionmaker, new)
    kpi_id = await create_kpi(client, tenant, KPI)
    bodies = [
        [{"kpi": KPI, "ts": f"1903-04-{day:02d}T00:00:00Z", "value": float(day)}] for day in (1, 2)
    ]
    async with sessionmaker() as holder:
        await holder.begin()
        await repository.lock_partitions(holder)
        tasks = [asyncio.create_task(post_json(client, tenant, body)) for body in bodies]
        try:
            await until_waiting(sessionmaker, 2, tasks)
        finally:
            await holder.rollback()
            replies = await asyncio.gather(*tasks)
    assert [counts(reply)["inserted"] for reply in replies] == [1, 1]
    assert await placed(sessionmaker, kpi_id) == ["points_1903_04"] * 2


async def test_making_a_month_blocks_neither_readers_nor_writers(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    new, current = month(1904, 5), month_of(datetime.now(UTC))
    await drop(sessionmaker, new)
    async with sessionmaker() as creator:
        await creator.begin()
        await partitions.ensure(creator, [new, current])
        modes = set(
            (
                await creator.execute(
                    text(
                        "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid()"
                        " AND relation = 'points'::regclass"
                    )
                )
            ).scalars()
        )
        # Attached, not created as a partition: ACCESS EXCLUSIVE would stop every reader.
        assert "ShareUpdateExclusiveLock" in modes
        assert "AccessExclusiveLock" not in modes
        async with sessionmaker() as other, other.begin():
            await other.execute(text("SET LOCAL lock_timeout = '2s'"))
            await other.scalar(text("SELECT count(*) FROM points"))
            await other.execute(
                text(
                    "INSERT INTO points (org_id, kpi_id, ts, dims_hash, value, dimensions)"
                    " VALUES (:org, :kpi, now(), 0, 1, '{}')"
                ),
                {"org": tenant.id, "kpi": uuid.uuid4()},
            )
        await creator.rollback()
    assert await existing(sessionmaker, [new]) == set()  # made with its transaction


async def test_a_month_made_by_an_open_transaction_is_not_remembered(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    new, known = month(1905, 6), KnownMonths()
    await drop(sessionmaker, new)
    async with sessionmaker() as session:
        await session.begin()
        await partitions.ensure(session, [new], known=known)
        await partitions.ensure(session, [new], known=known)  # finds it: its own
        assert not known.trusted(new, datetime.now(UTC))
        await session.rollback()
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, [new], known=known)  # made again
    assert await existing(sessionmaker, [new]) == {new}
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, [new], known=known)
    assert known.trusted(new, datetime.now(UTC))  # seen committed


async def test_a_month_retention_may_drop_is_looked_up_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    old = month(1906, 7)
    known = KnownMonths()
    known.set_retention(30)
    early, late = datetime(1906, 7, 15, tzinfo=UTC), datetime(1906, 9, 15, tzinfo=UTC)
    known.add([old], early)
    await drop(sessionmaker, old)  # as another process's retention would
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, [old], known=known, now=early)
    assert await existing(sessionmaker, [old]) == set()  # trusted: no look at all
    async with sessionmaker() as session, session.begin():
        await partitions.ensure(session, [old], known=known, now=late)
    assert await existing(sessionmaker, [old]) == {old}  # past the cut-off: looked up


async def test_a_month_known_in_one_database_is_still_made_in_another(
    sessionmaker: async_sessionmaker[AsyncSession], database_server_url: str
) -> None:
    """A server writes to one database, but a process may open several (tests, tools):
    what it knows of one says nothing of another."""
    wanted = month(1908, 10)
    for _ in range(2):  # made (if missing), then seen committed
        async with sessionmaker() as session, session.begin():
            await partitions.ensure(session, [wanted])
    assert PROCESS_MONTHS.of(session).trusted(wanted, datetime.now(UTC))
    async with fresh_database(database_server_url, "months") as url:
        engine = create_async_engine(url)
        try:
            await migrate(engine)
            other = async_sessionmaker(engine)
            async with other() as session, session.begin():
                await partitions.ensure(session, [wanted])
            assert await existing(other, [wanted]) == {wanted}
        finally:
            await engine.dispose()


def test_known_months_distrust_what_retention_may_drop() -> None:
    known = KnownMonths()
    february = month(2026, 2)
    known.add([february], datetime(2026, 2, 10, tzinfo=UTC))
    assert known.trusted(february, datetime(2030, 1, 1, tzinfo=UTC))  # no retention
    known.set_retention(30)
    # Its end (March 1st) plus 30 days, less a day of margin for other clocks.
    assert known.trusted(february, datetime(2026, 3, 29, 23, tzinfo=UTC))
    assert not known.trusted(february, datetime(2026, 3, 30, 1, tzinfo=UTC))
    late = KnownMonths()
    late.set_retention(30)
    late.add([february], datetime(2026, 4, 1, tzinfo=UTC))  # seen only once it may go
    assert not late.trusted(february, datetime(2026, 2, 10, tzinfo=UTC))


# --- the maintenance round ----------------------------------------------------------


async def test_a_round_makes_the_months_ahead(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ahead = [month(2500, number) for number in range(6, 12)]
    await drop(sessionmaker, *ahead)
    metrics, now = fresh_metrics(), datetime(2500, 6, 15, tzinfo=UTC)
    settings = with_(settings, points_partitions_ahead=5)
    result = await maintenance_round(sessionmaker, settings, metrics, now)
    assert (result.ran, result.created, result.dropped) == (True, ahead, [])
    assert await existing(sessionmaker, ahead) == set(ahead)
    assert metrics["partitions_created"] == 6
    again = await maintenance_round(sessionmaker, settings, metrics, now)
    assert again.created == []


async def test_a_round_while_another_process_runs_one_does_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    wanted = month(2501, 1)
    await drop(sessionmaker, wanted)
    now = datetime(2501, 1, 15, tzinfo=UTC)
    settings = with_(settings, points_partitions_ahead=0, points_retention_days=1)
    async with sessionmaker() as holder:
        await holder.begin()
        assert await repository.try_lock_round(holder)
        skipped = await maintenance_round(sessionmaker, settings, fresh_metrics(), now)
        await holder.rollback()
    assert (skipped.ran, skipped.created, skipped.dropped) == (False, [], [])
    assert await existing(sessionmaker, [wanted]) == set()
    done = await maintenance_round(
        sessionmaker, with_(settings, points_retention_days=None), fresh_metrics(), now
    )
    assert (done.ran, done.created) == (True, [wanted])


async def _versions(
    sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID
) -> tuple[int, dict[uuid.UUID, int]]:
    async with sessionmaker() as session:
        org = await session.scalar(
            text("SELECT version FROM org_data_versions WHERE org_id = :org"), {"org": org_id}
        )
        kpis = await session.execute(
            text("SELECT kpi_id, version FROM kpi_point_versions WHERE org_id = :org"),
            {"org": org_id},
        )
        return int(org), {row.kpi_id: row.version for row in kpis}


async def _rollup_periods(
    sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID
) -> tuple[list[date], list[date]]:
    async with sessionmaker() as session:
        days = await session.execute(
            text("SELECT DISTINCT day FROM kpi_day_rollups WHERE org_id = :org ORDER BY 1"),
            {"org": org_id},
        )
        months = await session.execute(
            text("SELECT DISTINCT month FROM kpi_month_rollups WHERE org_id = :org ORDER BY 1"),
            {"org": org_id},
        )
        return list(days.scalars()), list(months.scalars())


RETENTION_NOW = datetime(2026, 6, 15, tzinfo=UTC)  # with 60 days: cut-off 2026-04-16
OLD_POINTS = [
    {"kpi": KPI, "ts": "2026-02-10T12:00:00Z", "value": 1.0},
    {"kpi": KPI, "ts": "2026-03-31T23:30:00Z", "value": 2.0},
]
KEPT_POINTS = [
    {"kpi": KPI, "ts": "2026-04-02T08:00:00Z", "value": 3.0},  # before the cut-off: kept
    {"kpi": KPI, "ts": "2026-05-05T08:00:00Z", "value": 4.0},
]


async def test_retention_drops_whole_old_months_with_their_rollups(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, OLD_POINTS + KEPT_POINTS))["inserted"] == 4
    async with sessionmaker() as session, session.begin():
        await refresh(session)
    # A second KPI whose only point is old and not rolled up yet: a pending change.
    pending_id = await create_kpi(client, tenant, "sales.pending")
    pending = [{"kpi": "sales.pending", "ts": "2026-02-11T00:00:00Z", "value": 5.0}]
    assert counts(await post_json(client, tenant, pending))["inserted"] == 1
    # Another org's points of the kept months stay untouched.
    other_kpi = await create_kpi(client, other_tenant, KPI)
    assert counts(await post_json(client, other_tenant, KEPT_POINTS))["inserted"] == 2
    org_before, kpis_before = await _versions(sessionmaker, tenant.id)
    other_before, _ = await _versions(sessionmaker, other_tenant.id)

    metrics = fresh_metrics()
    settings = with_(settings, points_retention_days=60)
    result = await maintenance_round(sessionmaker, settings, metrics, RETENTION_NOW)

    february, march, april, may = (month(2026, number) for number in (2, 3, 4, 5))
    assert {february, march} <= set(result.dropped)
    assert max(result.dropped) == march  # whole months older than the cut-off only
    assert result.deferred is None
    assert metrics["partitions_dropped"] == len(result.dropped)
    assert await existing(sessionmaker, [february, march, april, may]) == {april, may}
    assert [item["value"] for item in await list_points(client, tenant, kpi_id)] == [3.0, 4.0]
    assert await list_points(client, tenant, pending_id) == []
    assert len(await list_points(client, other_tenant, other_kpi)) == 2
    days, months = await _rollup_periods(sessionmaker, tenant.id)
    assert days == [date(2026, 4, 2), date(2026, 5, 5)]
    assert months == [date(2026, 4, 1), date(2026, 5, 1)]
    series = await client.get(
        f"/v1/kpis/{kpi_id}/series",
        headers=tenant.headers,
        params={"from": "2026-01-01", "to": "2026-07-01", "interval": "month"},
    )
    assert series.status_code == 200, series.text
    assert [bucket["count"] for bucket in series.json()["buckets"]] == [0, 0, 0, 1, 1, 0]
    # What was read before may not be answered as unchanged, for the org and each KPI.
    org_after, kpis_after = await _versions(sessionmaker, tenant.id)
    assert org_after > org_before
    assert kpis_after[uuid.UUID(kpi_id)] > kpis_before[uuid.UUID(kpi_id)]
    assert kpis_after[uuid.UUID(pending_id)] > kpis_before[uuid.UUID(pending_id)]
    assert (await _versions(sessionmaker, other_tenant.id))[0] == other_before

    # A dropped month is made again when points of it arrive.
    assert counts(await post_json(client, tenant, OLD_POINTS[:1]))["inserted"] == 1
    assert await placed(sessionmaker, kpi_id) == [
        "points_2026_02",
        "points_2026_04",
        "points_2026_05",
    ]


async def test_a_drop_that_cannot_take_its_locks_is_put_off(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(partition_maintenance, "DROP_LOCK_TIMEOUT_MS", 100)
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, OLD_POINTS))["inserted"] == 2
    settings = with_(settings, points_retention_days=60)
    metrics = fresh_metrics()
    async with sessionmaker() as reader:
        await reader.begin()
        await reader.scalar(text("SELECT count(*) FROM points"))  # a long read, still open
        result = await maintenance_round(sessionmaker, settings, metrics, RETENTION_NOW)
        assert len(await list_points(client, tenant, kpi_id)) == 2  # readers go on
        await reader.rollback()
    assert result.ran
    assert result.dropped == []
    assert result.deferred is not None
    assert metrics["partition_drops_deferred"] == 1
    assert len(await list_points(client, tenant, kpi_id)) == 2
    retried = await maintenance_round(sessionmaker, settings, metrics, RETENTION_NOW)
    assert {month(2026, 2), month(2026, 3)} <= set(retried.dropped)
    assert await list_points(client, tenant, kpi_id) == []


async def test_a_month_that_fails_to_drop_holds_up_no_later_month(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kpi_id = await create_kpi(client, tenant, KPI)
    assert counts(await post_json(client, tenant, OLD_POINTS))["inserted"] == 2
    settings = with_(settings, points_retention_days=60)
    metrics = fresh_metrics()
    february, march = month(2026, 2), month(2026, 3)
    # Something of February's own: a view on its table, which DROP TABLE refuses to take.
    async with sessionmaker() as session, session.begin():
        await session.execute(text("CREATE VIEW february_points AS SELECT * FROM points_2026_02"))
    try:
        result = await maintenance_round(sessionmaker, settings, metrics, RETENTION_NOW)
        assert result.failed == [february]
        assert march in result.dropped
        assert february not in result.dropped
        assert result.deferred is None
        assert metrics["partition_drop_failures"] == 1
        assert await existing(sessionmaker, [february, march]) == {february}
        # Nothing of February went: its points and its partition stay whole.
        assert [item["value"] for item in await list_points(client, tenant, kpi_id)] == [1.0]
        failures = [record for record in caplog.records if "failed" in record.getMessage()]
        assert [getattr(record, "partition", None) for record in failures] == ["points_2026_02"]
        assert failures[0].exc_info is not None
    finally:
        async with sessionmaker() as session, session.begin():
            await session.execute(text("DROP VIEW IF EXISTS february_points"))
    retried = await maintenance_round(sessionmaker, settings, metrics, RETENTION_NOW)
    assert february in retried.dropped
    assert retried.failed == []
    assert await list_points(client, tenant, kpi_id) == []
