"""The progress tree of one objective, and its progress over time."""

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.buckets import Interval, buckets
from perfapi.domain.progress import Explain as ExplainValue
from perfapi.domain.progress import KeyResultProgress, ObjectiveProgress
from perfapi.key_results.repository import ProgressRow
from perfapi.objectives.repository import TreeRow
from perfapi.reports import schemas
from perfapi.reports.values import facts_of, progress_explained, progress_of

MAX_HISTORY_POINTS = 400


def _explain(explain: ExplainValue) -> schemas.Explain:
    return schemas.Explain(formula=explain.formula, inputs=explain.inputs)


def _node(
    objectives: dict[UUID, TreeRow],
    key_results: dict[UUID, ProgressRow],
    progress: ObjectiveProgress,
) -> schemas.ProgressNode:
    objective = objectives[progress.id]
    return schemas.ProgressNode(
        id=objective.id,
        title=objective.title,
        status=objective.status,
        weight=objective.weight,
        progress=progress.progress,
        achieved=progress.achieved,
        explain=_explain(progress.explain),
        key_results=[_key_result_node(key_results[item.id], item) for item in progress.key_results],
        children=[_node(objectives, key_results, child) for child in progress.children],
    )


def _key_result_node(row: ProgressRow, progress: KeyResultProgress) -> schemas.KeyResultNode:
    return schemas.KeyResultNode(
        id=row.id,
        title=row.title,
        direction=row.direction,
        weight=row.weight,
        kpi_id=row.kpi_id,
        current_value=progress.current_value,
        progress=progress.progress,
        explain=_explain(progress.explain),
    )


async def progress_tree(
    session: AsyncSession, org_id: UUID, objective_id: UUID, as_of: datetime, threshold: float
) -> schemas.ProgressTree:
    facts = await facts_of(session, org_id, [objective_id], as_of)
    progress = progress_explained(facts, threshold)
    return schemas.ProgressTree(
        as_of=as_of,
        threshold=threshold,
        objective=_node(
            {objective.id: objective for objective in facts.objectives},
            {item.id: item for item in facts.key_results},
            progress[objective_id],
        ),
    )


async def progress_history(
    session: AsyncSession,
    org_id: UUID,
    objective_id: UUID,
    start: datetime,
    end: datetime,
    interval: Interval,
    tz: ZoneInfo,
    threshold: float,
) -> schemas.ProgressHistory:
    """One point per bucket: the objective's progress as of the bucket's end.

    The last bucket's end is capped at ``end``. Each point is a full computation
    as of its instant, so the number of points is capped.
    """
    points = []
    last = end.astimezone(UTC)
    for _, bucket_end in buckets(start, end, interval, tz, MAX_HISTORY_POINTS):
        # In UTC: datetimes sharing a tzinfo compare by wall clock (see domain.buckets).
        at = min(bucket_end.astimezone(UTC), last)
        progress, achieved = (await progress_of(session, org_id, [objective_id], at, threshold))[
            objective_id
        ]
        points.append(schemas.HistoryPoint(at=at, progress=progress, achieved=achieved))
    return schemas.ProgressHistory(
        objective_id=objective_id,
        interval=interval.value,
        tz=tz.key,
        threshold=threshold,
        points=points,
    )
