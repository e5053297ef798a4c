"""Issuing, checking and revoking API keys."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
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
    rate_limit_per_minute: int | None = None,
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
        rate_limit_per_minute=rate_limit_per_minute,
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
        rate_limit_per_minute=key.rate_limit_per_minute,
    )


async def revoke(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey:
    key = await repository.get_for_update(session, org_id, key_id)
    if key is None:
        raise NotFoundError("No API key with this id.")
    recorded = audit_changes.snapshot(key)
    revoked = await repository.mark_revoked(session, key)
    # Recorded even when already revoked (no changes): someone asked to revoke it.
    await audit.record(
        session, org_id, Action.API_KEY_REVOKED, key_id, audit_changes.updated(recorded, revoked)
    )
    return revoked


async def update(
    session: AsyncSession, org_id: UUID, key_id: UUID, changes: Mapping[str, object]
) -> ApiKey:
    """Apply a merge patch's fields (already validated) to the key."""
    key = await repository.get_for_update(session, org_id, key_id)
    if key is None:
        raise NotFoundError("No API key with this id.")
    recorded = audit_changes.snapshot(key)
    for name, value in changes.items():
        setattr(key, name, value)
    saved = await repository.save(session, key)
    await audit.record(
        session, org_id, Action.API_KEY_UPDATED, key_id, audit_changes.updated(recorded, saved)
    )
    return saved


async def get(session: AsyncSession, org_id: UUID, key_id: UUID) -> ApiKey:
    key = await repository.get(session, org_id, key_id)
    if key is None:
        raise NotFoundError("No API key with this id.")
    return key
