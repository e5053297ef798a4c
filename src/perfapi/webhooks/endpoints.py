"""``/v1/webhook-sources``: configuration and deliveries (scope ``write`` throughout:
configurations and stored payloads can hold personal data from HR systems)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from perfapi.auth.dependencies import WriteAccess
from perfapi.auth.tokens import Scope
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.kit.parsing import parse_timestamp
from perfapi.kit.routing import JsonBodyRoute
from perfapi.kit.schemas import with_computed
from perfapi.models import WebhookSource as SourceRow
from perfapi.vault.dependencies import Keys
from perfapi.webhooks import repository, service
from perfapi.webhooks.schemas import (
    Delivery,
    RotateSecret,
    WebhookSource,
    WebhookSourceCreate,
    WebhookSourceUpdate,
    WebhookSourceWithSecret,
)

router = APIRouter(tags=["Webhooks"], route_class=JsonBodyRoute)

SOURCES = "/v1/webhook-sources"


def _present(source: SourceRow) -> WebhookSource:
    return with_computed(WebhookSource, source, receiver_path=f"/v1/hooks/{source.id}")


def _with_secret(source: SourceRow, secret: str) -> WebhookSourceWithSecret:
    """With the plaintext secret just issued (the row holds it encrypted)."""
    return with_computed(
        WebhookSourceWithSecret, source, receiver_path=f"/v1/hooks/{source.id}", secret=secret
    )


@router.get(
    SOURCES,
    operation_id="listWebhookSources",
    dependencies=[conditional(scope=Scope.WRITE)],
    summary="List webhook sources",
)
async def list_webhook_sources(
    principal: WriteAccess,
    session: DbSession,
    pagination: Pagination,
    request: Request,
    response: Response,
) -> Page[WebhookSource]:
    sources, next_key = await repository.list_page(
        session, principal.org_id, after=pagination.after_created(), limit=pagination.limit
    )
    return page_response(request, response, [_present(source) for source in sources], next_key)


@router.post(
    SOURCES,
    operation_id="createWebhookSource",
    summary="Create a webhook source; the response shows its secret once",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_webhook_source(
    body: WebhookSourceCreate,
    principal: WriteAccess,
    session: DbSession,
    response: Response,
    keyring: Keys,
) -> WebhookSourceWithSecret:
    source, secret = await service.create(session, principal.org_id, body, keyring)
    response.headers["Location"] = f"{SOURCES}/{source.id}"
    return _with_secret(source, secret)


@router.get(
    SOURCES + "/{source_id}",
    operation_id="getWebhookSource",
    dependencies=[conditional(scope=Scope.WRITE)],
    summary="Get a webhook source",
)
async def get_webhook_source(
    source_id: UUID, principal: WriteAccess, session: DbSession
) -> WebhookSource:
    return _present(await service.get(session, principal.org_id, source_id))


@router.patch(
    SOURCES + "/{source_id}",
    operation_id="updateWebhookSource",
    summary="Change a webhook source (JSON merge patch)",
    responses=problem_responses(409),
)
async def update_webhook_source(
    source_id: UUID, body: WebhookSourceUpdate, principal: WriteAccess, session: DbSession
) -> WebhookSource:
    return _present(await service.update(session, principal.org_id, source_id, body))


@router.delete(
    SOURCES + "/{source_id}",
    operation_id="deleteWebhookSource",
    summary="Delete a webhook source and its deliveries (points stay)",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_webhook_source(
    source_id: UUID, principal: WriteAccess, session: DbSession
) -> None:
    await service.delete(session, principal.org_id, source_id)


@router.post(
    SOURCES + "/{source_id}/rotate-secret",
    operation_id="rotateWebhookSourceSecret",
    summary="Issue a new secret; the old one stays valid for an overlap",
)
async def rotate_webhook_source_secret(
    source_id: UUID,
    principal: WriteAccess,
    session: DbSession,
    keyring: Keys,
    body: RotateSecret | None = None,
) -> WebhookSourceWithSecret:
    source, secret = await service.rotate_secret(
        session, principal.org_id, source_id, body or RotateSecret(), keyring
    )
    return _with_secret(source, secret)


@router.get(
    SOURCES + "/{source_id}/deliveries",
    operation_id="listWebhookDeliveries",
    dependencies=[conditional(scope=Scope.WRITE)],
    summary="List a source's deliveries, newest first",
)
async def list_webhook_deliveries(
    source_id: UUID,
    principal: WriteAccess,
    session: DbSession,
    pagination: Pagination,
    request: Request,
    response: Response,
    delivery_status: Annotated[Literal["processed", "failed"] | None, Query(alias="status")] = None,
) -> Page[Delivery]:
    await service.get(session, principal.org_id, source_id)
    deliveries, next_key = await repository.list_deliveries_page(
        session,
        principal.org_id,
        source_id,
        status=delivery_status,
        after=pagination.after(parse_timestamp, UUID),
        limit=pagination.limit,
    )
    items = [Delivery.model_validate(delivery) for delivery in deliveries]
    return page_response(request, response, items, next_key)


@router.post(
    SOURCES + "/{source_id}/deliveries/{delivery_id}/replay",
    operation_id="replayWebhookDelivery",
    summary="Process a stored delivery again with the source's current mapping",
    description="Idempotent: points are upserted, so replaying twice writes the same points.",
)
async def replay_webhook_delivery(
    source_id: UUID, delivery_id: UUID, principal: WriteAccess, session: DbSession
) -> Delivery:
    delivery = await service.replay(session, principal.org_id, source_id, delivery_id)
    return Delivery.model_validate(delivery)
