"""``Authorization: Bearer <key or JWT>`` -> :class:`Principal`, with scope checks.

Declared with ``Security(..., scopes=[...])`` so the OpenAPI document names the
scope every operation needs.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from perfapi.auth import repository
from perfapi.auth.actors import actor_var
from perfapi.auth.bearer import authenticate_bearer
from perfapi.auth.service import Principal
from perfapi.auth.tokens import Scope
from perfapi.db.session import DbSession, get_sessionmaker
from perfapi.errors import ForbiddenError, UnauthorizedError
from perfapi.ratelimits.enforce import enforce_rate_limit

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key: `Authorization: Bearer pfk_...`. Create one with "
    "`perfapi keys create` or `POST /v1/api-keys`. Or, where the server is set up for the "
    "organisation's identity provider, a JWT it issued (RS256, ES256 or EdDSA): "
    "`Authorization: Bearer eyJ...`, with the org in a claim and perfapi's scopes in `scope`.",
)


async def _record_use(request: Request, principal: Principal) -> None:
    """Bump ``last_used_at`` in its own short transaction.

    Outside the request's transaction on purpose: concurrent requests with one key
    must not queue on the key's row lock for the length of a (possibly long) request,
    and a use is a use even when the request then fails.
    """
    if principal.key_id is None or not repository.needs_touch(
        principal.last_used_at, datetime.now(UTC)
    ):
        return
    async with get_sessionmaker(request)() as session, session.begin():
        await repository.touch_last_used(session, principal.org_id, principal.key_id)


async def current_principal(
    request: Request,
    security_scopes: SecurityScopes,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("Send an API key: Authorization: Bearer <key>.")
    principal = await authenticate_bearer(request, session, credentials.credentials)
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        raise ForbiddenError(f"This operation needs the '{missing[0]}' scope.")
    await _record_use(request, principal)
    actor_var.set(principal.actor)
    await enforce_rate_limit(request, principal)
    return principal


ReadAccess = Annotated[Principal, Security(current_principal, scopes=[Scope.READ])]
WriteAccess = Annotated[Principal, Security(current_principal, scopes=[Scope.WRITE])]
IngestAccess = Annotated[Principal, Security(current_principal, scopes=[Scope.INGEST])]
AdminAccess = Annotated[Principal, Security(current_principal, scopes=[Scope.ADMIN])]
