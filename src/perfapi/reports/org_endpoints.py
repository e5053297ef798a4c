from datetime import UTC, date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.errors import ValidationFailedError
from perfapi.kit.calendar import CalendarDate
from perfapi.kit.exports import ExportFormat, ExportFormatParam, computed_export, export_responses
from perfapi.replicas.session import ReadReplicaSession
from perfapi.reports import schemas, summaries
from perfapi.reports.params import AsOf, Threshold

router = APIRouter(tags=["Reports"])


@router.get(
    "/v1/reports/goal-achievement",
    operation_id="getGoalAchievement",
    dependencies=[conditional(Clock.DATED_DATA, replica=True)],
    summary="How many objectives due in a window were achieved",
    description="Objectives with status active or closed whose due date lies in [from, to] "
    "(both included; default: the calendar year of as_of), optionally under `parent_id` (its "
    "whole subtree) or of `team`. rate = achieved / measured. Exports list the objectives.",
    response_model=schemas.GoalAchievement,
    responses=export_responses("The report."),
)
async def get_goal_achievement(
    principal: ReadAccess,
    session: ReadReplicaSession,
    as_of: AsOf,
    export_format: ExportFormatParam,
    start: Annotated[
        CalendarDate | None, Query(alias="from", description="First due date.")
    ] = None,
    end: Annotated[CalendarDate | None, Query(alias="to", description="Last due date.")] = None,
    threshold: Threshold = 1.0,
    parent_id: UUID | None = None,
    team: str | None = None,
) -> schemas.GoalAchievement | Response:
    year = as_of.astimezone(UTC).year  # the instant's year, whatever offset it was sent in
    first = start or date(year, 1, 1)
    last = end or date(year, 12, 31)
    if first > last:
        raise ValidationFailedError.single(["query", "to"], "to must not be before from.", "order")
    report = await summaries.goal_achievement_report(
        session,
        principal.org_id,
        start=first,
        end=last,
        as_of=as_of,
        threshold=threshold,
        parent_id=parent_id,
        team=team,
    )
    if export_format is not ExportFormat.JSON:
        return computed_export(
            report.objectives,
            export_format,
            item_model=schemas.GoalAchievementObjective,
            filename="goal-achievement",
        )
    return report


@router.get(
    "/v1/reports/alignment",
    operation_id="getAlignment",
    dependencies=[conditional(replica=True)],
    summary="How well active objectives are covered by KPIs, and which KPIs nothing uses",
    description="Exports list the unaligned objectives and the orphan KPIs, one per row.",
    response_model=schemas.Alignment,
    responses=export_responses("The report."),
)
async def get_alignment(
    principal: ReadAccess, session: ReadReplicaSession, export_format: ExportFormatParam
) -> schemas.Alignment | Response:
    report = await summaries.alignment_report(session, principal.org_id)
    if export_format is not ExportFormat.JSON:
        rows = [
            schemas.AlignmentRow(kind="unaligned_objective", id=item.id, name=item.title)
            for item in report.unaligned_objectives
        ] + [
            schemas.AlignmentRow(kind="orphan_kpi", id=item.id, name=item.key)
            for item in report.orphan_kpis
        ]
        return computed_export(
            rows, export_format, item_model=schemas.AlignmentRow, filename="alignment"
        )
    return report
