from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.auth import repository, service
from perfapi.auth.dependencies import AdminAccess
from perfapi.auth.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyUpdate
from perfapi.auth.tokens import Scope
from perfapi.conditional.dependencies import conditional
from perfapi.db.session import DbSession
from perfapi.kit.pagination import Page, Pagination, page_response
from perfapi.kit.routing import JsonBodyRoute

router = APIRouter(prefix="/v1/api-keys", tags=["API keys"], route_class=JsonBodyRoute)


@router.get(
    "",
    operation_id="listApiKeys",
    dependencies=[conditional(scope=Scope.ADMIN)],
    summary="List the org's API keys, newest first",
)
async def list_api_keys(
    principal: AdminAccess,
    session: DbSession,
    pagination: Pagination,
    request: Request,
    response: Response,
) -> Page[ApiKey]:
    keys, next_key = await repository.list_page(
        session,
        principal.org_id,
        after=pagination.after_created(),
        limit=pagination.limit,
    )
    items = [ApiKey.model_validate(key) for key in keys]
    return page_response(request, response, items, next_key)


@router.post(
    "",
    operation_id="createApiKey",
    summary="Create an API key; the response shows the secret once",
    status_code=status.HTTP_201_CREATED,
)
async def create_api_key(
    body: ApiKeyCreate, principal: AdminAccess, session: DbSession, response: Response
) -> ApiKeyCreated:
    key, token = await service.issue_key(
        session,
        principal.org_id,
        body.name,
        body.scopes,
        body.expires_at,
        body.rate_limit_per_minute,
    )
    await audit.record(
        session, principal.org_id, Action.API_KEY_CREATED, key.id, audit_changes.created(key)
    )
    response.headers["Location"] = f"{router.prefix}/{key.id}"
    return ApiKeyCreated.model_validate({**ApiKey.model_validate(key).model_dump(), "key": token})


@router.get(
    "/{key_id}",
    operation_id="getApiKey",
    dependencies=[conditional(scope=Scope.ADMIN)],
    summary="Get an API key",
)
async def get_api_key(key_id: UUID, principal: AdminAccess, session: DbSession) -> ApiKey:
    return ApiKey.model_validate(await service.get(session, principal.org_id, key_id))


@router.patch(
    "/{key_id}",
    operation_id="updateApiKey",
    summary="Rename an API key or change its rate limit (JSON merge patch)",
    description="`rate_limit_per_minute: null` puts the key back on the server's default. "
    "A new limit applies from the key's next request.",
)
async def update_api_key(
    key_id: UUID, body: ApiKeyUpdate, principal: AdminAccess, session: DbSession
) -> ApiKey:
    changes = body.model_dump(exclude_unset=True)
    return ApiKey.model_validate(await service.update(session, principal.org_id, key_id, changes))


@router.post(
    "/{key_id}/revoke",
    operation_id="revokeApiKey",
    summary="Revoke an API key; idempotent",
    description="A revoked key stops authenticating at once. Revoking it again changes nothing.",
)
async def revoke_api_key(key_id: UUID, principal: AdminAccess, session: DbSession) -> ApiKey:
    return ApiKey.model_validate(await service.revoke(session, principal.org_id, key_id))
