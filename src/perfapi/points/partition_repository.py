"""SQL of the monthly partitions of ``points``: which exist, making one, dropping one.

Partition names and bounds are derived from month numbers (:mod:`.months`), so
the DDL below is assembled from ints only.
"""

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.points.months import Month, month_named, partition_name, start_of

# Namespace of the advisory locks below ("part").
_LOCK_NAMESPACE = 0x70617274
# Held by whoever creates or drops a partition, until its transaction ends.
_PARTITIONS_KEY = 1
# Held by the process running a maintenance round; the others skip theirs.
_ROUND_KEY = 2


# The tables attached to ``points``: its partitions.
_PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'points'::regclass"
)


async def existing(session: AsyncSession, months: Iterable[Month]) -> set[Month]:
    """Which of these months have their partition attached to ``points``."""
    names = [partition_name(month) for month in months]
    rows = await session.execute(
        text(_PARTITIONS + " AND c.relname = ANY(CAST(:names AS text[]))"), {"names": names}
    )
    return _months_of(rows.scalars())


async def every_partition(session: AsyncSession) -> set[Month]:
    return _months_of((await session.execute(text(_PARTITIONS))).scalars())


def _months_of(names: Iterable[str]) -> set[Month]:
    return {month for name in names if (month := month_named(name)) is not None}


async def lock_partitions(session: AsyncSession) -> None:
    """Wait for the right to create or drop partitions, until this transaction ends.

    Creators re-check what exists after taking it: a concurrent creator of the
    same month has committed (it exists now) or rolled back (it does not).
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
        {"namespace": _LOCK_NAMESPACE, "key": _PARTITIONS_KEY},
    )


async def try_lock_round(session: AsyncSession) -> bool:
    """The maintenance round's lock, until this transaction ends; False if another holds it."""
    taken: bool = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"),
        {"namespace": _LOCK_NAMESPACE, "key": _ROUND_KEY},
    )
    return taken


async def create(session: AsyncSession, month: Month) -> None:
    """Make the month's partition, visible to others once this transaction commits.

    Not ``CREATE TABLE ... PARTITION OF``: that takes an ACCESS EXCLUSIVE lock on
    ``points`` until commit, and creation runs inside ingest transactions. A plain
    table shaped like ``points`` (its primary key included), attached afterwards,
    takes only SHARE UPDATE EXCLUSIVE on ``points`` (PostgreSQL 12 and later), which
    readers and writers do not conflict with. Attaching checks that the table holds
    nothing outside the bounds: it is empty, so that costs nothing.

    There is no DEFAULT partition on purpose: attaching next to one takes an ACCESS
    EXCLUSIVE lock on it and scans it for rows of the new month.
    """
    name = partition_name(month)
    start, end = start_of(month), start_of(month + 1)
    await session.execute(text(f"CREATE TABLE {name} (LIKE points INCLUDING ALL)"))
    await session.execute(
        text(
            f"ALTER TABLE points ATTACH PARTITION {name} FOR VALUES "
            f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    # After attaching: PostgreSQL 16 refuses to attach a table that has triggers with
    # transition tables, though a partition may be given statement-level ones.
    for statement in await _statement_triggers_for(session, name):
        await session.execute(text(statement))


async def _statement_triggers_for(session: AsyncSession, name: str) -> list[str]:
    """The statement-level triggers of ``points``, as made on the partition ``name``.

    PostgreSQL clones a partitioned table's row-level triggers to its partitions,
    not its statement-level ones, and those fire only for statements addressed to
    the table they are on. Writers address a partition directly at times (the COPY
    of a batch of one month), so each partition carries the same statement triggers
    (the data version notes): a write is noted once, by whichever table it named.
    """
    rows = await session.execute(
        text(
            "SELECT pg_get_triggerdef(t.oid), quote_ident(n.nspname) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgrelid = 'points'::regclass AND NOT t.tgisinternal AND t.tgtype & 1 = 0 "
            "ORDER BY t.tgname"
        )
    )
    statements = []
    for definition, schema in rows:
        parent, partition = f" ON {schema}.points ", f" ON {schema}.{name} "
        if definition.count(parent) != 1:
            raise RuntimeError(f"unexpected trigger definition on points: {definition}")
        statements.append(definition.replace(parent, partition))
    return statements


async def set_lock_timeout(session: AsyncSession, milliseconds: int) -> None:
    """Give up on any lock this transaction waits for longer than that (SQLSTATE 55P03)."""
    await session.execute(text(f"SET LOCAL lock_timeout = {int(milliseconds)}"))


async def detach_and_drop(session: AsyncSession, month: Month) -> None:
    """Remove the month's partition with its points.

    DETACH takes an ACCESS EXCLUSIVE lock on ``points`` until commit (DETACH ...
    CONCURRENTLY would not, but it cannot run inside a transaction, and the
    rollups of the month must go in the same one); callers set a short lock
    timeout first, so that readers never queue long behind the request.
    """
    name = partition_name(month)
    await session.execute(text(f"ALTER TABLE points DETACH PARTITION {name}"))
    await session.execute(text(f"DROP TABLE {name}"))


async def note_points_gone(session: AsyncSession, kpis: Iterable[tuple[UUID, UUID]]) -> None:
    """Give these KPIs and their orgs new data versions at commit: points of theirs went
    without a statement on ``points`` whose triggers would have noted it."""
    pairs = sorted(set(kpis))
    if not pairs:
        return
    params = {
        "org_ids": [org_id for org_id, _ in pairs],
        "kpi_ids": [kpi_id for _, kpi_id in pairs],
    }
    await session.execute(
        text(
            "INSERT INTO data_version_bumps (org_id, tx) "
            "SELECT DISTINCT org_id, txid_current() FROM unnest(CAST(:org_ids AS uuid[])) "
            "AS gone(org_id) ORDER BY 1 ON CONFLICT DO NOTHING"
        ),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO kpi_point_version_bumps (org_id, kpi_id, tx) "
            "SELECT org_id, kpi_id, txid_current() FROM unnest(CAST(:org_ids AS uuid[]), "
            "CAST(:kpi_ids AS uuid[])) AS gone(org_id, kpi_id) ON CONFLICT DO NOTHING"
        ),
        params,
    )
