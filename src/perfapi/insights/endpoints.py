from uuid import UUID

from fastapi import APIRouter

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.db.session import DbSession
from perfapi.insights import schemas
from perfapi.insights.objective_outlook import objective_outlook
from perfapi.reports.params import AsOf, Threshold

router = APIRouter(tags=["Insights"])


@router.get(
    "/v1/objectives/{objective_id}/outlook",
    operation_id="getObjectiveOutlook",
    dependencies=[conditional(Clock.DATED_DATA)],
    summary="Where an objective is likely to stand at the end of its due date",
    description="Expected progress at the end of the due date, its interval at 0.8 and the "
    "probability that progress reaches `threshold`, from 1,000 simulated futures: key results "
    "reading a KPI from the KPI's daily forecasting model, checked-in ones from the trend of "
    "their check-ins (flat with fewer than two), rolled up through the tree as progress is.",
    response_model=schemas.ObjectiveOutlook,
)
async def get_objective_outlook(
    objective_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    as_of: AsOf,
    threshold: Threshold = 1.0,
) -> schemas.ObjectiveOutlook:
    return await objective_outlook(session, principal.org_id, objective_id, as_of, threshold)
