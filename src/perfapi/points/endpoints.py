from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.auth.dependencies import IngestAccess, ReadAccess, WriteAccess
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.errors import ContentTooLargeError, ValidationFailedError
from perfapi.idempotency import service as idempotency
from perfapi.kit.calendar import POINT_INSTANT_PATTERN
from perfapi.kit.exports import (
    ExportFormat,
    ExportFormatParam,
    Formatted,
    export_response,
    export_responses,
)
from perfapi.kit.fields import MAX_MAGNITUDE
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.kit.parsing import parse_timestamp
from perfapi.kit.routing import JsonBodyRoute
from perfapi.kit.timerange import (
    FromParam,
    RequiredFromParam,
    RequiredToParam,
    ToParam,
    required_range,
    time_range,
)
from perfapi.kpis import service as kpis
from perfapi.kpis.schemas import KPI_KEY_PATTERN
from perfapi.points import repository, service
from perfapi.points.admission import Admission, Ticket
from perfapi.points.records import (
    DIMENSION_NAME,
    DIMENSION_NAME_BODY,
    MAX_DIMENSION_VALUE_LENGTH,
    MAX_DIMENSIONS,
)
from perfapi.points.schemas import IngestResult, PointOut, PointsDeleted
from perfapi.rollups import repository as rollups

router = APIRouter(tags=["Points"], route_class=JsonBodyRoute)

DIMENSION_FILTER_PREFIX = "dim."

_POINT_SCHEMA = {
    "type": "object",
    "required": ["kpi", "ts", "value"],
    "additionalProperties": False,
    "properties": {
        "kpi": {"type": "string", "pattern": KPI_KEY_PATTERN, "description": "The KPI's key."},
        "ts": {
            "type": "string",
            "pattern": POINT_INSTANT_PATTERN,
            "description": "RFC 3339 with seconds and an offset (`Z` or +hh:mm); a space for "
            "the `T` and +hhmm offsets are taken too.",
        },
        "value": {"type": "number", "minimum": -MAX_MAGNITUDE, "maximum": MAX_MAGNITUDE},
        "dimensions": {
            "type": ["object", "null"],
            "propertyNames": {"pattern": f"^{DIMENSION_NAME_BODY}$"},
            "additionalProperties": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_DIMENSION_VALUE_LENGTH,
            },
            "maxProperties": MAX_DIMENSIONS,
        },
    },
}
_INGEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["points"],
                "additionalProperties": False,
                "properties": {"points": {"type": "array", "items": _POINT_SCHEMA}},
            }
        },
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "One point object per line."}
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "Header `kpi,ts,value` plus optional `dim.<name>` columns.",
            }
        },
    },
}


def _json_too_large(limit: int) -> ContentTooLargeError:
    return ContentTooLargeError(
        f"A JSON body may hold at most {limit} bytes; "
        "send larger loads as application/x-ndjson or text/csv."
    )


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """JSON bodies are held in memory, so they get a tighter limit than streamed ones."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _json_too_large(limit)
        yield chunk


async def _admitted(request: Request) -> AsyncIterator[Ticket | None]:
    """A slot for a large JSON body, waited for before the request is authenticated,
    so a waiting request holds neither its body nor a database connection."""
    admission: Admission = request.app.state.points_admission
    if not admission.needs_slot(request.headers):
        yield None
        return
    async with admission.slot() as ticket:
        yield ticket


# Declared before the principal, so FastAPI waits for the slot first; released
# after the session dependency has committed.
Admitted = Annotated[Ticket | None, Depends(_admitted, scope="function")]


@router.post(
    "/v1/points",
    operation_id="ingestPoints",
    summary="Send measurements (JSON, NDJSON or CSV); atomic and idempotent",
    description="Every point is validated first: one bad point and nothing is stored "
    "(422 listing each bad point by index or line, first 100, with `errors_total`). "
    "A point is identified by (kpi, ts, dimensions); sending it again replaces its value. "
    "With `Idempotency-Key`, a repeated request replays the first reply.",
    openapi_extra={"requestBody": _INGEST_BODY},
    response_model=IngestResult,
    responses=problem_responses(409),
)
async def ingest_points(
    request: Request,
    ticket: Admitted,
    principal: IngestAccess,
    session: DbSession,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=idempotency.MAX_KEY_LENGTH,
            description="Any unique string per logical request, e.g. a UUID. Kept 24 hours.",
        ),
    ] = None,
) -> IngestResult | Response:
    settings = request.app.state.settings
    media_type = service.media_type_of(request.headers.get("content-type"))
    chunks: AsyncIterator[bytes] = request.stream()
    if media_type == service.JSON:
        limit = settings.max_points_json_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _json_too_large(limit)  # before reading any of it
        chunks = _limited(chunks, limit)

    async def work(body: AsyncIterator[bytes]) -> tuple[int, dict[str, Any]]:
        result = await service.ingest(session, principal.org_id, media_type, body, ticket)
        return 200, result.model_dump()

    if idempotency_key is None:
        return IngestResult.model_validate((await work(chunks))[1])
    reply = await idempotency.run_once(
        session,
        principal.org_id,
        idempotency_key,
        idempotency.Fingerprint("POST", request.url.path, media_type),
        chunks,
        work,
        timedelta(hours=settings.idempotency_retention_hours),
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def dimension_filters(request: Request) -> dict[str, str]:
    filters = {
        name.removeprefix(DIMENSION_FILTER_PREFIX): value
        for name, value in request.query_params.items()
        if name.startswith(DIMENSION_FILTER_PREFIX)
    }
    for name in filters:
        if not DIMENSION_NAME.fullmatch(name):
            raise ValidationFailedError.single(
                ["query", DIMENSION_FILTER_PREFIX + name],
                "A dimension filter is dim.<name>=<value> with a valid dimension name.",
                "invalid_dimension",
            )
    return filters


@router.get(
    "/v1/kpis/{kpi_id}/points",
    operation_id="listPoints",
    dependencies=[conditional()],
    summary="List a KPI's raw points by time",
    description="Filter by dimensions with `dim.<name>=<value>` (repeatable for several "
    "names). CSV exports have columns kpi, ts, value and one `dim.<name>` per dimension, "
    "the format `POST /v1/points` reads.",
    response_model=Page[PointOut],
    responses=export_responses(),
)
async def list_points(
    kpi_id: UUID,
    principal: ReadAccess,
    session: DbSession,
    pagination: Pagination,
    export_format: ExportFormatParam,
    request: Request,
    response: Response,
    start: FromParam = None,
    end: ToParam = None,
) -> Page[PointOut] | Response:
    org_id = principal.org_id
    kpi = await kpis.get(session, org_id, kpi_id)
    first, last = time_range(start, end)
    dimensions = dimension_filters(request)

    async def fetch(s: Any, after: list[Any] | None, limit: int) -> Any:
        return await repository.list_page(
            s,
            org_id,
            kpi_id,
            start=first,
            end=last,
            dimensions=dimensions,
            after=after,
            limit=limit,
        )

    if export_format is not ExportFormat.JSON:
        names = await repository.dimension_names(session, org_id, kpi_id, first, last)
        return await export_response(
            request,
            export_format,
            fetch_page=fetch,
            to_item=PointOut.model_validate,
            item_model=PointOut,
            filename=f"{kpi.key}-points",
            csv_columns=["kpi", "ts", "value", *(f"dim.{name}" for name in names)],
            csv_row=lambda item: _csv_row(kpi.key, item),
        )
    points, next_key = await fetch(
        session, pagination.after(parse_timestamp, int), pagination.limit
    )
    items = [PointOut.model_validate(point) for point in points]
    return page_response(request, response, items, next_key)


def _csv_row(kpi_key: str, item: Any) -> dict[str, Any]:
    assert isinstance(item, PointOut)
    ts = Formatted(item.ts.isoformat())
    row: dict[str, Any] = {"kpi": kpi_key, "ts": ts, "value": item.value}
    row.update({f"dim.{name}": value for name, value in item.dimensions.items()})
    return row


@router.delete(
    "/v1/kpis/{kpi_id}/points",
    operation_id="deletePoints",
    summary="Delete a KPI's points in [from, to)",
    description="Both bounds are required, so a whole history is never deleted by accident.",
)
async def delete_points(
    kpi_id: UUID,
    principal: WriteAccess,
    session: DbSession,
    start: RequiredFromParam,
    end: RequiredToParam,
) -> PointsDeleted:
    await kpis.get(session, principal.org_id, kpi_id)
    first, last = required_range(start, end)
    deleted = await repository.delete_range(session, principal.org_id, kpi_id, first, last)
    if deleted:
        last_day = (last - timedelta(microseconds=1)).astimezone(UTC).date()
        await rollups.record_changes(
            session, principal.org_id, [kpi_id], first.astimezone(UTC).date(), last_day
        )
    # The range names what was deleted (unchanged, so old = new); the count went to 0.
    await audit.record(
        session,
        principal.org_id,
        Action.KPI_POINTS_DELETED,
        kpi_id,
        {"from": (first, first), "to": (last, last), "points": (deleted, 0)},
    )
    return PointsDeleted(deleted=deleted)
