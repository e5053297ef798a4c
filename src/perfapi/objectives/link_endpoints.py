"""``/v1/objectives/{id}/kpis``: which KPIs measure an objective directly."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from perfapi.auth.dependencies import ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.kit.exports import export_responses
from perfapi.kit.listing import Listing, ListParams
from perfapi.kit.pagination import Page
from perfapi.kit.routing import JsonBodyRoute
from perfapi.objectives import repository, service
from perfapi.objectives.schemas import ObjectiveKpi, ObjectiveKpiPut

router = APIRouter(tags=["Objectives"], route_class=JsonBodyRoute)


@router.get(
    "/v1/objectives/{objective_id}/kpis",
    operation_id="listObjectiveKpis",
    dependencies=[conditional()],
    summary="List the KPIs linked to an objective",
    response_model=Page[ObjectiveKpi],
    responses=export_responses(),
)
async def list_objective_kpis(
    objective_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    listing: ListParams,
) -> Page[ObjectiveKpi] | Response:
    org_id = principal.org_id
    await service.get(session, org_id, objective_id)
    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_links_page(
                s, org_id, objective_id, after=after, limit=limit
            ),
            to_item=ObjectiveKpi.model_validate,
            item_model=ObjectiveKpi,
            filename="objective-kpis",
        ),
    )


@router.put(
    "/v1/objectives/{objective_id}/kpis/{kpi_id}",
    operation_id="linkObjectiveKpi",
    summary="Link a KPI to an objective, or change the link's weight (idempotent)",
    description="201 when the link is new, 200 when it existed. The body is optional.",
    responses={201: {"description": "Linked.", "model": ObjectiveKpi}},
)
async def link_objective_kpi(
    objective_id: UUID,
    kpi_id: UUID,
    principal: WriteAccess,
    session: DbSession,
    response: Response,
    body: ObjectiveKpiPut | None = None,
) -> ObjectiveKpi:
    weight = (body or ObjectiveKpiPut()).weight
    link, created = await service.link_kpi(session, principal.org_id, objective_id, kpi_id, weight)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ObjectiveKpi.model_validate(link)


@router.delete(
    "/v1/objectives/{objective_id}/kpis/{kpi_id}",
    operation_id="unlinkObjectiveKpi",
    summary="Remove the link between an objective and a KPI",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unlink_objective_kpi(
    objective_id: UUID, kpi_id: UUID, principal: WriteAccess, session: DbSession
) -> None:
    await service.unlink_kpi(session, principal.org_id, objective_id, kpi_id)
