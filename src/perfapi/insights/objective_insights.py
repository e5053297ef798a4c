"""The objective kinds of insight: likely missed, stale check-ins, unaligned."""

import math
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain import attention
from perfapi.domain.attention import InsightKind
from perfapi.domain.objective_outlook import expectation
from perfapi.forecasts.outlook import OUTLOOK_LEVEL
from perfapi.insights import messages
from perfapi.insights.objective_outlook import sample_tree
from perfapi.insights.snapshots import Snapshot, Standing, snapshot
from perfapi.insights.subjects import Draft, FeedQuery, Org, draft
from perfapi.key_results import repository as key_results
from perfapi.reports.current_values import period_end
from perfapi.reports.values import facts_of, progress_explained


async def _standings(
    session: AsyncSession, org_id: UUID, query: FeedQuery, kept: Snapshot
) -> dict[UUID, Standing]:
    """Every objective's progress and outlook: simulating them all costs hundreds of
    milliseconds even with every model fitted, so it is kept with the snapshot."""
    found = kept.standings.get(query.threshold)
    if found is not None:
        return found
    facts = await facts_of(session, org_id, None, query.as_of)
    progress = progress_explained(facts, query.threshold)
    sampled = await sample_tree(session, org_id, facts, query.as_of)
    found = {}
    for objective in facts.objectives:
        samples = sampled.objectives.get(objective.id)
        view = None if samples is None else expectation(samples, query.threshold, OUTLOOK_LEVEL)
        found[objective.id] = Standing(progress[objective.id].progress, view)
    kept.standings[query.threshold] = found
    return found


async def likely_missed(
    session: AsyncSession, org_id: UUID, org: Org, query: FeedQuery
) -> list[Draft]:
    """Active objectives whose probability of being achieved is below one half."""
    active = [
        o for o in org.objectives if o.status == "active" and query.matches(*org.steward(o.id))
    ]
    if not active:
        return []
    standings = await _standings(
        session, org_id, query, await snapshot(session, org_id, query.as_of)
    )
    found = []
    for objective in active:
        view, now = standings[objective.id].view, standings[objective.id].progress
        if view is None or view.probability >= attention.LIKELY_MISSED_BELOW:
            continue  # nothing measures it (the unaligned kind says so), or likely achieved
        over = query.as_of >= period_end(objective.due_date)
        found.append(
            draft(
                InsightKind.OBJECTIVE_LIKELY_MISSED,
                attention.likely_missed(view.probability),
                ("objective", objective.id, objective.title),
                org.steward(objective.id),
                messages.objective_likely_missed(
                    objective.title,
                    due=objective.due_date,
                    probability=view.probability,
                    expected=view.expected,
                    progress=now,
                    threshold=query.threshold,
                    over=over,
                ),
                {
                    "due_date": objective.due_date.isoformat(),
                    "progress": now,
                    "expected_progress": view.expected,
                    "lower": view.lower,
                    "upper": view.upper,
                    "probability_achieved": view.probability,
                    "threshold": query.threshold,
                },
            )
        )
    return found


async def stale_check_ins(
    session: AsyncSession, org_id: UUID, org: Org, query: FeedQuery
) -> list[Draft]:
    """Checked-in key results of active, started objectives without a recent check-in."""
    as_of = query.as_of
    cadences = attention.check_in_cadences(
        [o.id for o in org.objectives],
        [o.parent_id for o in org.objectives],
        [org.cadences[o.id] for o in org.objectives],
    )
    found = []
    for item in await key_results.check_in_recency(session, org_id, as_of):
        objective = org.by_id[item.objective_id]
        steward = org.steward(objective.id)
        begin = datetime.combine(objective.start_date, time(), UTC)
        if (
            objective.status != "active"
            or not query.matches(*steward)
            or as_of < begin
            or as_of >= period_end(objective.due_date)
        ):
            continue
        # Never checked in: stale once a cadence has passed since it could have been (a
        # key result added after as_of is then not stale as of it).
        since = item.last_check_in_at or max(item.created_at, begin)
        days = (as_of - since) / timedelta(days=1)
        every = cadences[objective.id]
        if days <= every:
            continue
        last = item.last_check_in_at
        found.append(
            draft(
                InsightKind.CHECK_IN_STALE,
                attention.check_in_stale(days, every),
                ("key_result", item.id, item.title),
                steward,
                messages.check_in_stale(
                    item.title,
                    objective=objective.title,
                    days=math.floor(days),
                    last=None if last is None else last.astimezone(UTC).date(),
                    every_days=every,
                ),
                {
                    "objective_id": str(objective.id),
                    "objective_title": objective.title,
                    "last_check_in_at": None if last is None else last.isoformat(),
                    "days_since": round(days, 2),
                    "check_in_every_days": every,
                },
            )
        )
    return found


def unaligned(org: Org, query: FeedQuery) -> list[Draft]:
    unaligned, _ = org.alignment
    found = []
    for objective in org.objectives:
        steward = org.steward(objective.id)
        if objective.id in unaligned and query.matches(*steward):
            found.append(
                draft(
                    InsightKind.OBJECTIVE_UNALIGNED,
                    attention.OBJECTIVE_UNALIGNED,
                    ("objective", objective.id, objective.title),
                    steward,
                    messages.objective_unaligned(objective.title),
                    {"due_date": objective.due_date.isoformat()},
                )
            )
    return found
