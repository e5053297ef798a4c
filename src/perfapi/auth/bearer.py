"""``Authorization: Bearer ...`` -> :class:`Principal`: an API key (``pfk_...``), or,
when the identity provider is configured, a JWT it issued."""

import logging

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.auth.actors import Actor
from perfapi.auth.jwks import KeysUnavailableError
from perfapi.auth.jwt import JwtVerifier, TokenRejectedError
from perfapi.auth.service import Principal, authenticate
from perfapi.auth.tokens import TOKEN_MARK
from perfapi.errors import ServiceUnavailableError, UnauthorizedError
from perfapi.orgs import repository as orgs_repository

log = logging.getLogger(__name__)

# One answer for every rejected JWT: which check failed is for the log only.
REJECTED_DETAIL = "The bearer token is not valid."


async def authenticate_bearer(request: Request, session: AsyncSession, token: str) -> Principal:
    verifier: JwtVerifier | None = request.app.state.jwt_verifier
    if verifier is None or token.startswith(TOKEN_MARK):
        return await authenticate(session, token)
    try:
        verified = await verifier.verify(token)
    except TokenRejectedError as exc:
        raise _rejected(exc.check) from None
    except KeysUnavailableError as exc:
        raise ServiceUnavailableError(
            "The identity provider's signing keys cannot be fetched; try again shortly.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    org = await orgs_repository.get_by_name(session, verified.org_name)
    if org is None:
        raise _rejected("unknown-org")
    return Principal(org_id=org.id, actor=Actor("jwt", verified.subject), scopes=verified.scopes)


def _rejected(check: str) -> UnauthorizedError:
    # An expired token is routine (the client refreshes it); the others deserve a look.
    level = logging.INFO if check == "expired" else logging.WARNING
    log.log(level, "JWT bearer token rejected: %s", check, extra={"jwt_check": check})
    return UnauthorizedError(REJECTED_DETAIL)
