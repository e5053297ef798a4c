import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import schemas, service
from perfapi.audit.actions import ResourceType
from perfapi.audit.repository import AuditFilters
from perfapi.auth.dependencies import AdminAccess
from perfapi.auth.tokens import Scope
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.kit.exports import ExportFormat, ExportFormatParam, export_response, export_responses
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.kit.timerange import FromParam, ToParam, time_range
from perfapi.models import AuditEvent

router = APIRouter(tags=["Audit"])

CSV_COLUMNS = [
    "id",
    "at",
    "actor.type",
    "actor.id",
    "action",
    "resource.type",
    "resource.id",
    "changes",
    "request_id",
]


@router.get(
    "/v1/audit-events",
    operation_id="listAuditEvents",
    dependencies=[conditional(scope=Scope.ADMIN)],
    summary="The org's audit log, newest first",
    description="Every write, recorded in its transaction: who (`actor`), what (`action`, "
    "`resource`), the changed fields with old and new values (`changes`; secrets never "
    "appear) and the request. Filter by `resource_type`, `resource_id`, `actor_id` (an API "
    "key's id, a JWT's `sub`, or `cli`) and time (`from` inclusive, `to` exclusive). "
    "Entries are kept `PERFAPI_AUDIT_RETENTION_DAYS` days (365). CSV exports have one "
    "column per field of an entry, `changes` as JSON text.",
    response_model=Page[schemas.AuditEvent],
    responses=export_responses(),
)
async def list_audit_events(
    principal: AdminAccess,
    session: DbSession,
    pagination: Pagination,
    export_format: ExportFormatParam,
    request: Request,
    response: Response,
    resource_type: Annotated[
        ResourceType | None, Query(description="Only entries about resources of this type.")
    ] = None,
    resource_id: Annotated[
        UUID | None, Query(description="Only entries about the resource with this id.")
    ] = None,
    actor_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description="Only entries by this actor: an API key's id, a JWT's `sub`, or `cli`.",
        ),
    ] = None,
    start: FromParam = None,
    end: ToParam = None,
) -> Page[schemas.AuditEvent] | Response:
    first, last = time_range(start, end)
    filters = AuditFilters(
        resource_type=None if resource_type is None else resource_type.value,
        resource_id=None if resource_id is None else str(resource_id),
        actor_id=actor_id,
        start=first,
        end=last,
    )
    org_id = principal.org_id

    async def fetch(
        s: AsyncSession, after: list[Any] | None, limit: int
    ) -> tuple[list[AuditEvent], list[Any] | None]:
        return await service.page(s, org_id, filters, after=after, limit=limit)

    if export_format is not ExportFormat.JSON:
        return await export_response(
            request,
            export_format,
            fetch_page=fetch,
            to_item=_item,
            item_model=schemas.AuditEvent,
            filename="audit-events",
            csv_columns=CSV_COLUMNS,
            csv_row=_csv_row,
        )
    rows, next_key = await fetch(session, pagination.after_created(), pagination.limit)
    return page_response(request, response, [_item(row) for row in rows], next_key)


def _item(row: AuditEvent) -> schemas.AuditEvent:
    return schemas.AuditEvent(
        id=row.id,
        at=row.at,
        actor=schemas.AuditActor.model_validate({"type": row.actor_type, "id": row.actor_id}),
        action=row.action,
        resource=schemas.AuditResource(type=row.resource_type, id=row.resource_id),
        changes=row.changes,
        request_id=row.request_id,
    )


def _csv_row(item: Any) -> dict[str, Any]:
    assert isinstance(item, schemas.AuditEvent)
    return {
        "id": item.id,
        "at": item.at,
        "actor.type": item.actor.type,
        "actor.id": item.actor.id,
        "action": item.action,
        "resource.type": item.resource.type,
        "resource.id": item.resource.id,
        # Text, so still neutralised against formulas (a JSON object never starts as one).
        "changes": json.dumps(item.model_dump(mode="json")["changes"], separators=(",", ":")),
        "request_id": item.request_id,
    }
