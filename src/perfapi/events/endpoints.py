from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.events import schemas, service
from perfapi.events.types import EventType
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.models import Event

router = APIRouter(tags=["Events"])


@router.get(
    "/v1/events",
    operation_id="listEvents",
    dependencies=[conditional()],
    summary="The org's event log, oldest first",
    description="Every change, recorded in the transaction that made it, in the order the "
    "transactions committed: start `after` an event id (or from the oldest kept), follow "
    "`next_cursor`. Filter with `type` (repeat for several). Events are kept "
    "`PERFAPI_EVENT_RETENTION_DAYS` days.",
    response_model=Page[schemas.Event],
)
async def list_events(
    principal: ReadAccess,
    session: DbSession,
    request: Request,
    response: Response,
    pagination: Pagination,
    after: Annotated[
        str | None, Query(max_length=40, description="An event id: list the events after it.")
    ] = None,
    type_: Annotated[
        list[EventType] | None,
        Query(alias="type", description="Only these types (repeat for several)."),
    ] = None,
) -> Page[schemas.Event]:
    cursor = pagination.after(int)
    start = cursor[0] if cursor else None
    if start is None and after is not None:
        start = service.position_of(after, ["query", "after"])
    rows = await service.page(session, principal.org_id, start, type_, pagination.limit + 1)
    shown = rows[: pagination.limit]
    more = len(rows) > pagination.limit
    return page_response(
        request,
        response,
        [_item(row) for row in shown],
        [shown[-1].position] if more else None,
    )


def _item(row: Event) -> schemas.Event:
    assert row.position is not None  # committed events have their position
    return schemas.Event(
        id=service.event_id(row.position),
        type=EventType(row.type),
        created_at=row.created_at,
        data=row.data,
    )
