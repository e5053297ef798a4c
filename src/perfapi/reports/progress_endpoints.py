from uuid import UUID

from fastapi import APIRouter

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.domain.buckets import Interval
from perfapi.kit.timerange import RequiredFromParam, RequiredToParam, required_range
from perfapi.objectives import service as objectives
from perfapi.replicas.session import ReadReplicaSession
from perfapi.reports import schemas, trees
from perfapi.reports.params import AsOf, Threshold
from perfapi.reports.query import IntervalParam, Zone, too_many_buckets_is_422

router = APIRouter(tags=["Reports"])


@router.get(
    "/v1/objectives/{objective_id}/progress",
    operation_id="getObjectiveProgress",
    dependencies=[conditional(Clock.DATED_DATA, replica=True)],
    summary="An objective's progress tree, with how every value was computed",
)
async def get_objective_progress(
    objective_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    as_of: AsOf,
    threshold: Threshold = 1.0,
) -> schemas.ProgressTree:
    await objectives.get(session, principal.org_id, objective_id)
    return await trees.progress_tree(session, principal.org_id, objective_id, as_of, threshold)


@router.get(
    "/v1/objectives/{objective_id}/progress/history",
    operation_id="getObjectiveProgressHistory",
    dependencies=[conditional(replica=True)],
    summary="An objective's progress over time, one value per bucket end",
    description=f"At most {trees.MAX_HISTORY_POINTS} buckets.",
)
async def get_objective_progress_history(
    objective_id: UUID,
    principal: ReadAccess,
    session: ReadReplicaSession,
    tz: Zone,
    start: RequiredFromParam,
    end: RequiredToParam,
    interval: IntervalParam = Interval.MONTH,
    threshold: Threshold = 1.0,
) -> schemas.ProgressHistory:
    await objectives.get(session, principal.org_id, objective_id)
    first, last = required_range(start, end, tz)
    with too_many_buckets_is_422():
        return await trees.progress_history(
            session, principal.org_id, objective_id, first, last, interval, tz, threshold
        )
