"""Issuing, checking and revoking API keys."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.auth import repository
from perfapi.auth.actors import Actor
from perfapi.auth.tokens import Scope, generate_token, hash_token, prefix_of, token_matches
from perfapi.errors import NotFoundError, UnauthorizedError
from perfapi.models import ApiKey


@dataclass(frozen=True)
class Principal:
    """Who is calling: the org every query is filtered by, what the caller may do, and
    who it is (an API key, or a JWT's subject)."""

    org_id: UUID
    actor: Actor
    scopes: frozenset[Scope]
    # API keys only: the key, when it was last used, and its own rate limit if it has one.
    key_id: UUID | None = None
    last_used_at: datetime | None = None
    rate_limit_per_minute: int | None = None


async def issue_key(
    session: AsyncSession,
    org_id: UUID,
    name: str,
    scopes: Iterable[Scope],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key; return it with its secret, which is never available again."""
    token, prefix = generate_token()
    key = ApiKey(
        org_id=org_id,
        name=name,
        prefix=prefix,
        secret_hash=hash_token(token),
        scopes=sorted({Scope(scope).value for scope in scopes}),
        expires_at=expires_at,
    )
    return await repository.add(session, key), token


async def authenticate(session: AsyncSession, token: str) -> Principal:
    prefix = prefix_of(token)
    key = None if prefix is None else await repository.find_by_prefix(session, prefix)
    if key is None or not token_matches(token, key.secret_hash):
        raise UnauthorizedError("The API key is not valid.")
    if key.revoked_at is not None:
        raise UnauthorizedError("The API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
        raise UnauthorizedError("The API key has expired.")
    return Principal(
        org_id=key.org_id,
        actor=Actor("api_key", str(key.id)),
        key_id=key.id,
        scopes=frozenset(Scope(scope) for scope in key.scopes),
        last_used_at=key.last_used_at,
    )


async def revoke(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey:
    key = await repository.get_for_update(session, org_id, key_id)
    if key is None:
        raise NotFoundError("No API key with this id.")
    return await repository.mark_revoked(session, key)


async def get(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey:
    key = await repository.get(session, org_id, key_id)
    if key is None:
        raise NotFoundError("No API key with this id.")
    return key
