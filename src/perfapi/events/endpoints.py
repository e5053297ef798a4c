from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from perfapi.auth.dependencies import ReadAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.events import schemas, service
from perfapi.events.stream import event_stream
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


@router.get(
    "/v1/events/stream",
    operation_id="streamEvents",
    summary="The org's events as they commit: Server-Sent Events",
    description="`text/event-stream`: each event as `id:` (its id), `event:` (its type) and "
    "`data:` (the event's JSON, as `GET /v1/events` lists it), in commit order, including "
    "changes committed by any server process; a comment line as a heartbeat every "
    "`PERFAPI_EVENT_STREAM_HEARTBEAT_SECONDS` (15). Starts with what commits after the "
    "request, or after `Last-Event-ID` (what a browser's EventSource sends when it "
    "reconnects): nothing in between is missed. Filter with `type` (repeat for several). A "
    "malformed `Last-Event-ID`: 422.",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_events(
    request: Request,
    principal: ReadAccess,
    session: DbSession,
    type_: Annotated[
        list[EventType] | None,
        Query(alias="type", description="Only these types (repeat for several)."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=40,
            description="The id of the last event received: resume after it.",
        ),
    ] = None,
) -> EventSourceResponse:
    if last_event_id is not None:
        after = service.position_of(last_event_id, ["header", "Last-Event-ID"])
    else:
        after = await service.latest_position(session, principal.org_id)
    state = request.app.state
    return EventSourceResponse(
        event_stream(
            state.sessionmaker,
            state.event_signals,
            state.event_tails,
            principal.org_id,
            after,
            type_,
        ),
        ping=state.settings.event_stream_heartbeat_seconds,
    )


def _item(row: Event) -> schemas.Event:
    assert row.position is not None  # committed events have their position
    return schemas.Event(
        id=service.event_id(row.position),
        type=EventType(row.type),
        created_at=row.created_at,
        data=row.data,
    )
