"""The progress tree of one objective, and its progress over time."""

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.buckets import Interval, buckets
from perfapi.domain.progress import Explain as ExplainValue
from perfapi.domain.progress import ObjectiveProgress
from perfapi.reports import schemas
from perfapi.reports.values import ProgressOfTree, progress_of

MAX_HISTORY_POINTS = 400


def _explain(explain: ExplainValue) -> schemas.Explain:
    return schemas.Explain(formula=explain.formula, inputs=explain.inputs)


def _node(tree: ProgressOfTree, progress: ObjectiveProgress) -> schemas.ProgressNode:
    objective = tree.objectives[progress.id]
    return schemas.ProgressNode(
        id=objective.id,
        title=objective.title,
        status=objective.status,
        weight=objective.weight,
        progress=progress.progress,
        achieved=progress.achieved,
        explain=_explain(progress.explain),
        key_results=[
            schemas.KeyResultNode(
                id=item.id,
                title=tree.key_results[item.id].title,
                direction=tree.key_results[item.id].direction,
                weight=tree.key_results[item.id].weight,
                kpi_id=tree.key_results[item.id].kpi_id,
                current_value=item.current_value,
                progress=item.progress,
                explain=_explain(item.explain),
            )
            for item in progress.key_results
        ],
        children=[_node(tree, child) for child in progress.children],
    )


async def progress_tree(
    session: AsyncSession, org_id: UUID, objective_id: UUID, as_of: datetime, threshold: float
) -> schemas.ProgressTree:
    tree = await progress_of(session, org_id, [objective_id], as_of, threshold)
    return schemas.ProgressTree(
        as_of=as_of, threshold=threshold, objective=_node(tree, tree.progress[objective_id])
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
        tree = await progress_of(session, org_id, [objective_id], at, threshold)
        progress = tree.progress[objective_id]
        points.append(
            schemas.HistoryPoint(at=at, progress=progress.progress, achieved=progress.achieved)
        )
    return schemas.ProgressHistory(
        objective_id=objective_id,
        interval=interval.value,
        tz=tz.key,
        threshold=threshold,
        points=points,
    )
