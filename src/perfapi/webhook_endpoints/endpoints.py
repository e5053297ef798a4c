"""``/v1/webhook-endpoints``: where the org's events are sent (scope ``admin``: an
endpoint receives every change of the org it subscribes to)."""

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from perfapi.auth.dependencies import AdminAccess
from perfapi.auth.tokens import Scope
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.events.service import event_id
from perfapi.kit.openapi import problem_responses
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.kit.parsing import parse_timestamp
from perfapi.kit.routing import JsonBodyRoute
from perfapi.kit.schemas import with_computed
from perfapi.models import WebhookEndpoint as EndpointRow
from perfapi.models import WebhookEndpointAttempt
from perfapi.vault.dependencies import Keys
from perfapi.webhook_endpoints import repository, service
from perfapi.webhook_endpoints.schemas import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from perfapi.webhooks.schemas import RotateSecret

router = APIRouter(tags=["Webhook endpoints"], route_class=JsonBodyRoute)

ENDPOINTS = "/v1/webhook-endpoints"


def _attempt(attempt: WebhookEndpointAttempt) -> WebhookAttempt:
    stored = set(WebhookAttempt.model_fields) - {"event_id"}
    fields = {name: getattr(attempt, name) for name in stored}
    return WebhookAttempt.model_validate({**fields, "event_id": event_id(attempt.event_position)})


def _with_secret(endpoint: EndpointRow, secret: str) -> WebhookEndpointWithSecret:
    """With the plaintext secret just issued (the row holds it encrypted)."""
    return with_computed(WebhookEndpointWithSecret, endpoint, secret=secret)


@router.get(
    ENDPOINTS,
    operation_id="listWebhookEndpoints",
    dependencies=[conditional(scope=Scope.ADMIN)],
    summary="List webhook endpoints",
)
async def list_webhook_endpoints(
    principal: AdminAccess,
    session: DbSession,
    pagination: Pagination,
    request: Request,
    response: Response,
) -> Page[WebhookEndpoint]:
    endpoints, next_key = await repository.list_page(
        session, principal.org_id, after=pagination.after_created(), limit=pagination.limit
    )
    items = [WebhookEndpoint.model_validate(endpoint) for endpoint in endpoints]
    return page_response(request, response, items, next_key)


@router.post(
    ENDPOINTS,
    operation_id="createWebhookEndpoint",
    summary="Subscribe a URL to events; the response shows its signing secret once",
    description="The URL must be http(s); its host is resolved and refused (422) if any "
    "address is loopback, private, link-local or a cloud metadata address, unless the "
    "server sets `PERFAPI_WEBHOOK_ALLOW_PRIVATE_TARGETS`. The endpoint receives the events "
    "that commit after it is created.",
    status_code=status.HTTP_201_CREATED,
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    principal: AdminAccess,
    session: DbSession,
    request: Request,
    response: Response,
    keyring: Keys,
) -> WebhookEndpointWithSecret:
    endpoint, secret = await service.create(
        session, principal.org_id, body, request.app.state.settings, keyring
    )
    response.headers["Location"] = f"{ENDPOINTS}/{endpoint.id}"
    return _with_secret(endpoint, secret)


@router.get(
    ENDPOINTS + "/{endpoint_id}",
    operation_id="getWebhookEndpoint",
    dependencies=[conditional(scope=Scope.ADMIN)],
    summary="Get a webhook endpoint",
)
async def get_webhook_endpoint(
    endpoint_id: UUID, principal: AdminAccess, session: DbSession
) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(await service.get(session, principal.org_id, endpoint_id))


@router.patch(
    ENDPOINTS + "/{endpoint_id}",
    operation_id="updateWebhookEndpoint",
    summary="Change a webhook endpoint (JSON merge patch)",
    description="`enabled: false` stops deliveries (pending ones are marked failed); "
    "`enabled: true` sends what commits from then on.",
)
async def update_webhook_endpoint(
    endpoint_id: UUID,
    body: WebhookEndpointUpdate,
    principal: AdminAccess,
    session: DbSession,
    request: Request,
) -> WebhookEndpoint:
    endpoint = await service.update(
        session, principal.org_id, endpoint_id, body, request.app.state.settings
    )
    return WebhookEndpoint.model_validate(endpoint)


@router.delete(
    ENDPOINTS + "/{endpoint_id}",
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint, its deliveries and attempts",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_webhook_endpoint(
    endpoint_id: UUID, principal: AdminAccess, session: DbSession
) -> None:
    await service.remove(session, principal.org_id, endpoint_id)


@router.post(
    ENDPOINTS + "/{endpoint_id}/rotate-secret",
    operation_id="rotateWebhookEndpointSecret",
    summary="Issue a new signing secret; deliveries carry a signature under the old one too "
    "during the overlap",
)
async def rotate_webhook_endpoint_secret(
    endpoint_id: UUID,
    principal: AdminAccess,
    session: DbSession,
    keyring: Keys,
    body: RotateSecret | None = None,
) -> WebhookEndpointWithSecret:
    endpoint, secret = await service.rotate_secret(
        session, principal.org_id, endpoint_id, body or RotateSecret(), keyring
    )
    return _with_secret(endpoint, secret)


@router.get(
    ENDPOINTS + "/{endpoint_id}/attempts",
    operation_id="listWebhookEndpointAttempts",
    summary="List an endpoint's delivery attempts, newest first",
    description="Not tagged for conditional requests: attempts are added as deliveries "
    "happen. Kept as long as their event (`PERFAPI_EVENT_RETENTION_DAYS`).",
)
async def list_webhook_endpoint_attempts(
    endpoint_id: UUID,
    principal: AdminAccess,
    session: DbSession,
    pagination: Pagination,
    request: Request,
    response: Response,
    attempt_status: Annotated[Literal["succeeded", "failed"] | None, Query(alias="status")] = None,
) -> Page[WebhookAttempt]:
    await service.get(session, principal.org_id, endpoint_id)
    attempts, next_key = await repository.list_attempts_page(
        session,
        principal.org_id,
        endpoint_id,
        status=attempt_status,
        after=pagination.after(parse_timestamp, UUID),
        limit=pagination.limit,
    )
    response.headers["Cache-Control"] = "no-store"
    return page_response(request, response, [_attempt(item) for item in attempts], next_key)


@router.post(
    ENDPOINTS + "/{endpoint_id}/attempts/{attempt_id}/retry",
    operation_id="retryWebhookEndpointAttempt",
    summary="Send a failed attempt's event again, once",
    description="The event goes out as soon as a sender is free, with the same "
    "`webhook-id`; its outcome is a new attempt with `trigger: manual`. 409 when the "
    "endpoint is disabled, the attempt succeeded, or the event is already due to be sent.",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
)
async def retry_webhook_endpoint_attempt(
    endpoint_id: UUID, attempt_id: UUID, principal: AdminAccess, session: DbSession
) -> WebhookDelivery:
    delivery, attempt = await service.retry(
        session, principal.org_id, endpoint_id, attempt_id, datetime.now(UTC)
    )
    return WebhookDelivery(
        id=delivery.id,
        event_id=event_id(attempt.event_position),
        status="pending",
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
    )
