from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.auth.dependencies import ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.db.session import DbSession
from perfapi.key_results import repository, service
from perfapi.key_results.presenter import present, present_one
from perfapi.key_results.schemas import KeyResult, KeyResultCreate, KeyResultUpdate
from perfapi.kit.exports import export_responses
from perfapi.kit.listing import Listing, ListParams
from perfapi.kit.pagination import Page
from perfapi.kit.routing import JsonBodyRoute
from perfapi.models import KeyResult as KeyResultRow
from perfapi.objectives import service as objectives
from perfapi.reports.params import AsOf

router = APIRouter(tags=["Key results"], route_class=JsonBodyRoute)


@router.get(
    "/v1/objectives/{objective_id}/key-results",
    operation_id="listKeyResults",
    dependencies=[conditional(Clock.DATED_DATA)],
    summary="List an objective's key results in creation order",
    response_model=Page[KeyResult],
    responses=export_responses(),
)
async def list_key_results(
    objective_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    listing: ListParams,
    as_of: AsOf,
) -> Page[KeyResult] | Response:
    org_id = principal.org_id
    await objectives.get(session, org_id, objective_id)

    async def items_of(s: AsyncSession, rows: Sequence[KeyResultRow]) -> list[KeyResult]:
        return await present(s, org_id, rows, as_of)

    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_page(
                s, org_id, objective_id, after=after, limit=limit
            ),
            items_of=items_of,
            item_model=KeyResult,
            filename="key-results",
        ),
    )


@router.post(
    "/v1/objectives/{objective_id}/key-results",
    operation_id="createKeyResult",
    summary="Add a key result to an objective",
    status_code=status.HTTP_201_CREATED,
)
async def create_key_result(
    objective_id: UUID,
    body: KeyResultCreate,
    principal: WriteAccess,
    session: DbSession,
    response: Response,
) -> KeyResult:
    key_result = await service.create(session, principal.org_id, objective_id, body)
    response.headers["Location"] = f"/v1/key-results/{key_result.id}"
    return await present_one(session, principal.org_id, key_result, datetime.now(UTC))


@router.get(
    "/v1/key-results/{key_result_id}",
    operation_id="getKeyResult",
    dependencies=[conditional(Clock.DATED_DATA)],
    summary="Get a key result",
)
async def get_key_result(
    key_result_id: UUID, principal: ReadAccess, session: DbSession, as_of: AsOf
) -> KeyResult:
    key_result = await service.get(session, principal.org_id, key_result_id)
    return await present_one(session, principal.org_id, key_result, as_of)


@router.patch(
    "/v1/key-results/{key_result_id}",
    operation_id="updateKeyResult",
    summary="Change a key result (JSON merge patch)",
)
async def update_key_result(
    key_result_id: UUID, body: KeyResultUpdate, principal: WriteAccess, session: DbSession
) -> KeyResult:
    key_result = await service.update(session, principal.org_id, key_result_id, body)
    return await present_one(session, principal.org_id, key_result, datetime.now(UTC))


@router.delete(
    "/v1/key-results/{key_result_id}",
    operation_id="deleteKeyResult",
    summary="Delete a key result with its check-ins",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_key_result(
    key_result_id: UUID, principal: WriteAccess, session: DbSession
) -> None:
    await service.delete(session, principal.org_id, key_result_id)
