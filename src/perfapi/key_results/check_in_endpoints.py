from uuid import UUID

from fastapi import APIRouter, Response, status

from perfapi.auth.dependencies import ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.key_results import repository, service
from perfapi.key_results.schemas import CheckIn, CheckInCreate
from perfapi.kit.exports import export_responses
from perfapi.kit.listing import Listing, ListParams
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page
from perfapi.kit.routing import JsonBodyRoute

router = APIRouter(tags=["Key results"], route_class=JsonBodyRoute)


@router.get(
    "/v1/key-results/{key_result_id}/check-ins",
    operation_id="listCheckIns",
    dependencies=[conditional()],
    summary="List a key result's check-ins, oldest first",
    response_model=Page[CheckIn],
    responses=export_responses(),
)
async def list_check_ins(
    key_result_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    listing: ListParams,
) -> Page[CheckIn] | Response:
    org_id = principal.org_id
    await service.get(session, org_id, key_result_id)
    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_check_ins_page(
                s, org_id, key_result_id, after=after, limit=limit
            ),
            to_item=CheckIn.model_validate,
            item_model=CheckIn,
            filename="check-ins",
        ),
    )


@router.post(
    "/v1/key-results/{key_result_id}/check-ins",
    operation_id="createCheckIn",
    summary="Record a key result's value",
    description="A key result that reads its value from a KPI takes no check-ins: 409.",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_check_in(
    key_result_id: UUID,
    body: CheckInCreate,
    principal: WriteAccess,
    session: DbSession,
    response: Response,
) -> CheckIn:
    check_in = await service.check_in(session, principal.org_id, key_result_id, body)
    response.headers["Location"] = f"/v1/check-ins/{check_in.id}"
    return CheckIn.model_validate(check_in)


@router.get(
    "/v1/check-ins/{check_in_id}",
    operation_id="getCheckIn",
    dependencies=[conditional()],
    summary="Get a check-in",
)
async def get_check_in(check_in_id: UUID, principal: ReadAccess, session: DbSession) -> CheckIn:
    return CheckIn.model_validate(
        await service.get_check_in(session, principal.org_id, check_in_id)
    )


@router.delete(
    "/v1/check-ins/{check_in_id}",
    operation_id="deleteCheckIn",
    summary="Delete a check-in recorded by mistake",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_check_in(check_in_id: UUID, principal: WriteAccess, session: DbSession) -> None:
    await service.delete_check_in(session, principal.org_id, check_in_id)
