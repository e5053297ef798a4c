"""Making sure the months points are written to have their partition, inside the writer's
transaction and cheaply.

``points`` is partitioned by UTC month (see :mod:`.partition_maintenance` for the
months made ahead and dropped after the retention). A point whose month has no
partition yet is stored all the same: before points are written, their months are
ensured here. A process remembers the months it has seen committed, so the usual
request (this month, already known) costs no round trip; an unknown month costs
one look at the catalog, and a missing one is created under an advisory lock.
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.points import partition_repository as repository
from perfapi.points.months import Month, start_of

# Clocks of the processes sharing a database may disagree a little: a month that one
# process's retention is about to drop is distrusted by the others this much early.
CLOCK_MARGIN = timedelta(days=1)

# In ``session.info``: months this session created, maybe not committed yet.
_CREATED = "perfapi.points.created_months"


class KnownMonths:
    """The months this process has seen a committed partition of, in one database.

    Partitions are only ever dropped by retention, and only once their month is
    past its cut-off: a known month is trusted until it comes near that cut-off,
    then looked up again, under the lock retention drops partitions under.
    """

    def __init__(self) -> None:
        self._months: set[Month] = set()
        self.retention: timedelta | None = None

    def set_retention(self, days: int | None) -> None:
        self.retention = None if days is None else timedelta(days=days)

    def may_be_dropped(self, month: Month, now: datetime) -> bool:
        if self.retention is None:
            return False
        return start_of(month + 1) <= now - self.retention + CLOCK_MARGIN

    def trusted(self, month: Month, now: datetime) -> bool:
        return month in self._months and not self.may_be_dropped(month, now)

    def add(self, months: Collection[Month], now: datetime) -> None:
        self._months.update(month for month in months if not self.may_be_dropped(month, now))

    def discard(self, month: Month) -> None:
        self._months.discard(month)


class ProcessMonths:
    """This process's known months, per database it writes to: a server writes to one,
    but tests and tools may open several in one process."""

    def __init__(self) -> None:
        self._by_database: dict[tuple[str | None, int | None, str | None], KnownMonths] = {}
        self.retention_days: int | None = None

    def set_retention(self, days: int | None) -> None:
        self.retention_days = days
        for known in self._by_database.values():
            known.set_retention(days)

    def clear(self) -> None:
        """Forget every database's months (each is looked up again at its next use)."""
        self._by_database.clear()

    def of(self, session: AsyncSession) -> KnownMonths:
        bind = session.get_bind()
        url = bind.engine.url if isinstance(bind, Connection) else bind.url
        database = (url.host, url.port, url.database)
        known = self._by_database.get(database)
        if known is None:
            known = self._by_database[database] = KnownMonths()
            known.set_retention(self.retention_days)
        return known


PROCESS_MONTHS = ProcessMonths()
"""Every session of the process writes through it."""


async def ensure(
    session: AsyncSession,
    months: Collection[Month],
    *,
    known: KnownMonths | None = None,
    now: datetime | None = None,
) -> None:
    """Make sure each month has its partition before points are written to it.

    Best called before the transaction touches ``points``: a missing month waits for
    the partitions' advisory lock, which a retention drop holds while it waits for
    an exclusive lock on ``points`` (that drop gives up after its lock timeout).
    """
    if known is None:
        known = PROCESS_MONTHS.of(session)
    now = now or datetime.now(UTC)
    wanted = {month for month in months if not known.trusted(month, now)}
    if not wanted:
        return
    # Retention may be dropping one of these right now: look under its lock, and keep
    # it until commit, so the partition cannot go between this look and the write.
    locked = any(known.may_be_dropped(month, now) for month in wanted)
    if locked:
        await repository.lock_partitions(session)
    found = await repository.existing(session, wanted)
    created: set[Month] = session.info.setdefault(_CREATED, set())
    known.add(found - created, now)  # one created here may yet be rolled back
    missing = wanted - found
    if not missing:
        return
    if not locked:
        await repository.lock_partitions(session)
        # Another writer may have made some of them while this one waited.
        missing -= await repository.existing(session, missing)
    for month in sorted(missing):
        await repository.create(session, month)
        created.add(month)
