import json
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.domain.attention import KIND_ORDER as KIND_RANK
from perfapi.domain.attention import InsightKind
from perfapi.insights import schemas
from perfapi.insights.feed import FeedQuery, insights, sort_key
from perfapi.insights.objective_outlook import objective_outlook
from perfapi.kit.exports import ExportFormat, ExportFormatParam, computed_export, export_responses
from perfapi.kit.pagination import Pagination, encode_cursor
from perfapi.replicas.session import ReadReplicaSession
from perfapi.reports.params import AsOf, Threshold

router = APIRouter(tags=["Insights"])

# A page validated in one call: a model built per item costs twice as much.
_INSIGHTS = TypeAdapter(list[schemas.Insight])


@router.get(
    "/v1/objectives/{objective_id}/outlook",
    operation_id="getObjectiveOutlook",
    dependencies=[conditional(Clock.DATED_DATA, replica=True)],
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
    session: ReadReplicaSession,
    as_of: AsOf,
    threshold: Threshold = 1.0,
) -> schemas.ObjectiveOutlook:
    return await objective_outlook(session, principal.org_id, objective_id, as_of, threshold)


@router.get(
    "/v1/insights",
    operation_id="listInsights",
    dependencies=[conditional(Clock.CONTINUOUS, replica=True)],
    summary="What needs attention, most severe first",
    description="Insights of every kind (or those `kind` names): KPIs off track or at risk "
    "against the target covering as_of, KPI anomalies in the 7 days before as_of's day, KPIs "
    "that measure the strategy without a target, active objectives whose probability of being "
    "achieved is below 0.5, checked-in key results with no check-in for longer than their "
    "objective's `check_in_every_days`, unaligned objectives and orphan KPIs. Each has a "
    "severity in [0, 1], the subject to act on, one plain sentence and its evidence. `team` "
    "and `owner` filter by the subject's objective (for a KPI: any objective it is linked to "
    "or feeds). Pages are keyed by severity: pass the first page's `as_of` with the cursor. "
    "Exports list every insight, the evidence as JSON.",
    response_model=schemas.InsightFeed,
    responses=export_responses("The insights."),
)
async def list_insights(
    principal: ReadAccess,
    session: ReadReplicaSession,
    request: Request,
    response: Response,
    as_of: AsOf,
    pagination: Pagination,
    export_format: ExportFormatParam,
    team: Annotated[str | None, Query(description="Only the subjects of this team.")] = None,
    owner: Annotated[str | None, Query(description="Only the subjects of this owner.")] = None,
    kind: Annotated[
        list[InsightKind] | None, Query(description="Only these kinds (repeat for several).")
    ] = None,
    threshold: Threshold = 1.0,
) -> schemas.InsightFeed | Response:
    after = pagination.after(float, InsightKind, str, UUID)
    query = FeedQuery(
        as_of=as_of,
        threshold=threshold,
        team=team,
        owner=owner,
        kinds=None if not kind else frozenset(kind),
    )
    found = await insights(session, principal.org_id, query)
    if export_format is not ExportFormat.JSON:
        every = _INSIGHTS.validate_python([draft.item() for draft in found])
        return computed_export(
            [_row(item) for item in every] if export_format is ExportFormat.CSV else every,
            export_format,
            item_model=schemas.InsightRow if export_format is ExportFormat.CSV else schemas.Insight,
            filename="insights",
        )
    if after is not None:
        severity, after_kind, title, subject_id = after
        mark = (-severity, KIND_RANK[after_kind], title, str(subject_id))
        found = [item for item in found if sort_key(item) > mark]
    page = found[: pagination.limit]
    next_cursor = None
    if len(found) > pagination.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            [last.severity, last.kind.value, last.title, str(last.subject_id)]
        )
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    items = _INSIGHTS.validate_python([draft.item() for draft in page])
    return schemas.InsightFeed(as_of=as_of, items=items, next_cursor=next_cursor)


def _row(item: schemas.Insight) -> schemas.InsightRow:
    return schemas.InsightRow(
        kind=item.kind,
        severity=item.severity,
        subject_type=item.subject.type,
        subject_id=item.subject.id,
        subject_title=item.subject.title,
        team=item.team,
        owner=item.owner,
        message=item.message,
        evidence=json.dumps(item.evidence, separators=(",", ":"), sort_keys=True),
    )
