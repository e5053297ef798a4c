from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from perfapi.auth.dependencies import ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.kit.exports import export_responses
from perfapi.kit.listing import Listing, ListParams
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page
from perfapi.kit.parsing import parse_date
from perfapi.kit.routing import JsonBodyRoute
from perfapi.kpis import repository, service
from perfapi.kpis.schemas import Kpi, KpiCreate, KpiTarget, KpiTargetCreate, KpiUpdate

router = APIRouter(tags=["KPIs"], route_class=JsonBodyRoute)


@router.get(
    "/v1/kpis",
    operation_id="listKpis",
    dependencies=[conditional()],
    summary="List KPIs in creation order",
    response_model=Page[Kpi],
    responses=export_responses(),
)
async def list_kpis(
    principal: ReadAccess,
    session: DbSession,
    listing: ListParams,
    tag: Annotated[str | None, Query(description="Only KPIs carrying this tag.")] = None,
) -> Page[Kpi] | Response:
    org_id = principal.org_id
    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_page(
                s, org_id, tag=tag, after=after, limit=limit
            ),
            to_item=Kpi.model_validate,
            item_model=Kpi,
            filename="kpis",
        ),
    )


@router.post(
    "/v1/kpis",
    operation_id="createKpi",
    summary="Create a KPI",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_kpi(
    body: KpiCreate, principal: WriteAccess, session: DbSession, response: Response
) -> Kpi:
    kpi = await service.create(session, principal.org_id, body)
    response.headers["Location"] = f"/v1/kpis/{kpi.id}"
    return Kpi.model_validate(kpi)


@router.get(
    "/v1/kpis/{kpi_id}", operation_id="getKpi", dependencies=[conditional()], summary="Get a KPI"
)
async def get_kpi(kpi_id: UUID, principal: ReadAccess, session: DbSession) -> Kpi:
    return Kpi.model_validate(await service.get(session, principal.org_id, kpi_id))


@router.patch(
    "/v1/kpis/{kpi_id}",
    operation_id="updateKpi",
    summary="Change a KPI (JSON merge patch)",
    responses=problem_responses(409),
)
async def update_kpi(
    kpi_id: UUID, body: KpiUpdate, principal: WriteAccess, session: DbSession
) -> Kpi:
    return Kpi.model_validate(await service.update(session, principal.org_id, kpi_id, body))


@router.delete(
    "/v1/kpis/{kpi_id}",
    operation_id="deleteKpi",
    summary="Delete a KPI with its points, targets and objective links",
    description="Refused with 409 while key results read from the KPI.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
async def delete_kpi(kpi_id: UUID, principal: WriteAccess, session: DbSession) -> None:
    await service.delete(session, principal.org_id, kpi_id)


@router.get(
    "/v1/kpis/{kpi_id}/targets",
    operation_id="listKpiTargets",
    dependencies=[conditional()],
    summary="List a KPI's targets by period",
    response_model=Page[KpiTarget],
    responses=export_responses(),
)
async def list_kpi_targets(
    kpi_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    listing: ListParams,
) -> Page[KpiTarget] | Response:
    org_id = principal.org_id
    await service.get(session, org_id, kpi_id)
    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_targets_page(
                s, org_id, kpi_id, after=after, limit=limit
            ),
            to_item=KpiTarget.model_validate,
            item_model=KpiTarget,
            filename="kpi-targets",
            cursor=(parse_date, UUID),
        ),
    )


@router.post(
    "/v1/kpis/{kpi_id}/targets",
    operation_id="createKpiTarget",
    summary="Set a target for a period",
    description="Periods of one KPI may not overlap: an overlapping period is 409.",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_kpi_target(
    kpi_id: UUID,
    body: KpiTargetCreate,
    principal: WriteAccess,
    session: DbSession,
    response: Response,
) -> KpiTarget:
    target = await service.add_target(session, principal.org_id, kpi_id, body)
    response.headers["Location"] = f"/v1/kpi-targets/{target.id}"
    return KpiTarget.model_validate(target)


@router.get(
    "/v1/kpi-targets/{target_id}",
    operation_id="getKpiTarget",
    dependencies=[conditional()],
    summary="Get a target",
)
async def get_kpi_target(target_id: UUID, principal: ReadAccess, session: DbSession) -> KpiTarget:
    return KpiTarget.model_validate(await service.get_target(session, principal.org_id, target_id))


@router.delete(
    "/v1/kpi-targets/{target_id}",
    operation_id="deleteKpiTarget",
    summary="Delete a target",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_kpi_target(target_id: UUID, principal: WriteAccess, session: DbSession) -> None:
    await service.delete_target(session, principal.org_id, target_id)
