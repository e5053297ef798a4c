import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.auth.dependencies import ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.conditional.tags import Clock
from perfapi.db.session import DbSession
from perfapi.errors import ValidationFailedError
from perfapi.kit.calendar import CalendarDate
from perfapi.kit.exports import export_responses
from perfapi.kit.listing import Listing, ListParams
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page
from perfapi.kit.routing import JsonBodyRoute
from perfapi.models import Objective as ObjectiveRow
from perfapi.objectives import repository, service
from perfapi.objectives.presenter import present, present_one
from perfapi.objectives.repository import ObjectiveFilters
from perfapi.objectives.schemas import (
    Objective,
    ObjectiveCreate,
    ObjectiveStatus,
    ObjectiveUpdate,
)
from perfapi.reports.params import AsOf, Threshold

router = APIRouter(tags=["Objectives"], route_class=JsonBodyRoute)


# A hyphenated UUID or the word null, as the document states it.
_UUID = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_PARENT_ID_PATTERN = rf"^(null|{_UUID})$"
_HYPHENATED_UUID = re.compile(_UUID)


def _objective_id(value: str) -> UUID:
    if not _HYPHENATED_UUID.fullmatch(value):
        raise ValidationFailedError.single(
            ["query", "parent_id"], "parent_id must be an objective id or null.", "uuid_parsing"
        )
    return UUID(value)


def _filters(
    parent_id: Annotated[
        str | None,
        Query(
            description="Children of this objective (an id); `null` for root objectives.",
            json_schema_extra={"pattern": _PARENT_ID_PATTERN},
        ),
    ] = None,
    status: Annotated[
        list[ObjectiveStatus] | None, Query(description="Repeat for several statuses.")
    ] = None,
    team: str | None = None,
    owner: str | None = None,
    due_from: Annotated[
        CalendarDate | None, Query(description="Due on or after this date.")
    ] = None,
    due_to: Annotated[CalendarDate | None, Query(description="Due on or before this date.")] = None,
) -> ObjectiveFilters:
    parent = None if parent_id in (None, "null") else _objective_id(parent_id)
    if due_from is not None and due_to is not None and due_from > due_to:
        raise ValidationFailedError.single(
            ["query", "due_to"], "due_to must not be before due_from.", "date_order"
        )
    return ObjectiveFilters(
        parent_id=parent,
        roots_only=parent_id == "null",
        statuses=[s.value for s in status or ()],
        team=team,
        owner=owner,
        due_from=due_from,
        due_to=due_to,
    )


@router.get(
    "/v1/objectives",
    operation_id="listObjectives",
    dependencies=[conditional(Clock.DATED_DATA)],
    summary="List objectives in creation order",
    response_model=Page[Objective],
    responses=export_responses(),
)
async def list_objectives(
    principal: ReadAccess,
    session: DbSession,
    filters: Annotated[ObjectiveFilters, Depends(_filters)],
    listing: ListParams,
    as_of: AsOf,
    threshold: Threshold = 1.0,
) -> Page[Objective] | Response:
    org_id = principal.org_id

    async def items_of(s: AsyncSession, rows: Sequence[ObjectiveRow]) -> list[Objective]:
        return await present(s, org_id, rows, as_of, threshold)

    return await listing.respond(
        session,
        Listing(
            fetch_page=lambda s, after, limit: repository.list_page(
                s, org_id, filters, after=after, limit=limit
            ),
            items_of=items_of,
            item_model=Objective,
            filename="objectives",
        ),
    )


@router.post(
    "/v1/objectives",
    operation_id="createObjective",
    summary="Create an objective",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_objective(
    body: ObjectiveCreate, principal: WriteAccess, session: DbSession, response: Response
) -> Objective:
    objective = await service.create(session, principal.org_id, body)
    response.headers["Location"] = f"/v1/objectives/{objective.id}"
    return await present_one(session, principal.org_id, objective, datetime.now(UTC))


@router.get(
    "/v1/objectives/{objective_id}",
    operation_id="getObjective",
    dependencies=[conditional(Clock.DATED_DATA)],
    summary="Get an objective",
)
async def get_objective(
    objective_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    as_of: AsOf,
    threshold: Threshold = 1.0,
) -> Objective:
    objective = await service.get(session, principal.org_id, objective_id)
    return await present_one(session, principal.org_id, objective, as_of, threshold)


@router.patch(
    "/v1/objectives/{objective_id}",
    operation_id="updateObjective",
    summary="Change an objective (JSON merge patch)",
    responses=problem_responses(409),
)
async def update_objective(
    objective_id: UUID, body: ObjectiveUpdate, principal: WriteAccess, session: DbSession
) -> Objective:
    objective = await service.update(session, principal.org_id, objective_id, body)
    return await present_one(session, principal.org_id, objective, datetime.now(UTC))


@router.delete(
    "/v1/objectives/{objective_id}",
    operation_id="deleteObjective",
    summary="Delete an objective with its key results, check-ins and KPI links",
    description="An objective that has children is not deleted: 409.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
async def delete_objective(objective_id: UUID, principal: WriteAccess, session: DbSession) -> None:
    await service.delete(session, principal.org_id, objective_id)
