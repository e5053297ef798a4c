"""Derived events: what moved in the computed values after commits (DESIGN 9).

``kpi.status_changed`` (a KPI's attainment status against the target covering
today), ``objective.progress_changed`` and ``objective.achieved``. An org is
evaluated when its data version is newer than the one it was last evaluated at:
its values are computed as the reports compute them and compared with the last
announced state (``models.derived``); each that moved gets an event. The events,
the new states and the evaluated version commit together, under a per-org lock,
so a change is announced exactly once whichever process evaluates it, and a
recomputation that gives the same values announces nothing.
"""

import logging
import math
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.conditional.repository import data_version
from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.domain.attainment import AttainmentInput, attainment
from perfapi.events import derived_repository as repository
from perfapi.events import service as events
from perfapi.events.types import EventType
from perfapi.kit.backoff import Backoff
from perfapi.kit.loops import repeat_forever
from perfapi.kpis import repository as kpis
from perfapi.kpis.repository import KpiFacts
from perfapi.models import KpiStatusState, ObjectiveProgressState
from perfapi.objectives import repository as objectives
from perfapi.ranges.service import RangeQuery, aggregate
from perfapi.reports.current_values import period_end
from perfapi.reports.values import progress_scores, score_facts_of_tree

log = logging.getLogger(__name__)

ORGS_PER_ROUND = 100


def _same(before: float | None, after: float | None) -> bool:
    if before is None or after is None:
        return before is after
    return math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-12)


async def evaluate_org(session: AsyncSession, org_id: UUID, now: datetime) -> int:
    """Record the org's derived events as of ``now``; how many. Call in a transaction."""
    await repository.lock_org(session, org_id)
    version = (await data_version(session, org_id)).version
    done = await repository.evaluated_version(session, org_id)
    if done is not None and done >= version:
        return 0  # another evaluation got here first
    recorded = await _kpis(session, org_id, now) + await _objectives(session, org_id, now)
    await repository.mark(session, org_id, version)
    return recorded


async def _kpis(session: AsyncSession, org_id: UUID, now: datetime) -> int:
    targeted: list[tuple[KpiFacts, date, date, float]] = [
        (kpi, kpi.period_start, kpi.period_end, kpi.target)
        for kpi in await kpis.facts_with_targets(session, org_id, now.date())
        if kpi.period_start is not None and kpi.period_end is not None and kpi.target is not None
    ]
    partials = await aggregate(
        session,
        org_id,
        [
            RangeQuery(
                kpi.id,
                datetime.combine(start, time(), UTC),
                min(period_end(end), now + timedelta(microseconds=1)),
            )
            for kpi, start, end, _ in targeted
        ],
    )
    states = await repository.kpi_states(session, org_id)
    recorded = 0
    changed: list[object] = []
    for (kpi, start, end, target), partial in zip(targeted, partials, strict=True):
        result = attainment(
            AttainmentInput(start, end, target, kpi.aggregation, kpi.direction, now, partial)
        )
        old = states.get(kpi.id)
        state = (start, end, result.status)
        if old is not None and (old.period_start, old.period_end, old.status) == state:
            continue
        changed.append(
            KpiStatusState(
                org_id=org_id,
                kpi_id=kpi.id,
                period_start=start,
                period_end=end,
                status=result.status,
            )
        )
        moved = old.status != result.status if old is not None else result.status != "no_data"
        if moved:
            await events.record(
                session,
                org_id,
                EventType.KPI_STATUS_CHANGED,
                {
                    "kpi": {"id": kpi.id, "key": kpi.key, "name": kpi.name},
                    "from": None if old is None else old.status,
                    "to": result.status,
                    "pace": result.pace,
                    "period_start": start,
                    "period_end": end,
                },
            )
            recorded += 1
    await repository.forget_kpis(session, org_id, set(states) - {kpi.id for kpi, *_ in targeted})
    await repository.save(session, changed)
    return recorded


async def _objectives(session: AsyncSession, org_id: UUID, now: datetime) -> int:
    tree = await objectives.tree_rows(session, org_id, None)
    facts = await score_facts_of_tree(session, org_id, tree, now, whole_org=True)
    scores = progress_scores(facts, 1.0)
    states = await repository.objective_states(session, org_id)
    recorded = 0
    changed: list[object] = []
    for objective in tree:
        progress, achieved = scores[objective.id]
        old = states.get(objective.id)
        if old is not None and _same(old.progress, progress) and old.achieved == achieved:
            continue
        changed.append(
            ObjectiveProgressState(
                org_id=org_id, objective_id=objective.id, progress=progress, achieved=achieved
            )
        )
        subject = {"id": objective.id, "title": objective.title, "team": objective.team}
        before = None if old is None else old.progress
        if not _same(before, progress):
            await events.record(
                session,
                org_id,
                EventType.OBJECTIVE_PROGRESS_CHANGED,
                {"objective": subject, "from": before, "to": progress},
            )
            recorded += 1
        if achieved and not (old is not None and old.achieved):
            await events.record(
                session,
                org_id,
                EventType.OBJECTIVE_ACHIEVED,
                {"objective": subject, "progress": progress},
            )
            recorded += 1
    await repository.save(session, changed)
    return recorded


async def evaluate_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    backoff: Backoff | None = None,
    failures: Counter | None = None,
) -> int:
    """One round: every org whose data changed since its last evaluation, each in its
    own transaction; one that fails is logged, counted and set aside, and holds up no
    other."""
    backoff = backoff or Backoff()
    async with sessionmaker() as session:
        due = await repository.orgs_due(session, ORGS_PER_ROUND, backoff.set_aside(now))
    recorded = 0
    for org_id in due:
        try:
            async with sessionmaker() as session, session.begin():
                recorded += await evaluate_org(session, org_id, now)
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            log.exception("derived events of org %s failed", org_id)
            backoff.failed(org_id, now)
            if failures is not None:
                failures.inc()
        else:
            backoff.succeeded(org_id)
    return recorded


async def derive_forever(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, failures: Counter
) -> None:
    backoff = Backoff()
    # A round fails when the database is down, say: the next round tries again.
    await repeat_forever(
        lambda: evaluate_due(sessionmaker, datetime.now(UTC), backoff, failures),
        settings.derived_events_seconds,
        "derived events failed",
        log,
    )
