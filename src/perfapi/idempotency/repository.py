import hashlib
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.models import IdempotencyKey


def _lock_id(org_id: UUID, key: str) -> int:
    digest = hashlib.blake2b(f"idempotency:{org_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def try_lock(session: AsyncSession, org_id: UUID, key: str) -> bool:
    """Take the key's transaction-level advisory lock; False while another request holds it."""
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(_lock_id(org_id, key))))
    return bool(locked)


async def find_live(session: AsyncSession, org_id: UUID, key: str) -> IdempotencyKey | None:
    found: IdempotencyKey | None = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.org_id == org_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at > func.now(),
        )
    )
    return found


async def record(
    session: AsyncSession,
    org_id: UUID,
    key: str,
    fingerprint: bytes,
    status: int,
    body: dict[str, Any],
    retention: timedelta,
) -> None:
    values = {
        "fingerprint": fingerprint,
        "response_status": status,
        "response_body": body,
        "created_at": func.now(),
        "expires_at": func.now() + retention,
    }
    await session.execute(
        insert(IdempotencyKey)
        .values(org_id=org_id, key=key, **values)
        .on_conflict_do_update(index_elements=["org_id", "key"], set_=values)
    )


async def purge_expired(session: AsyncSession, org_id: UUID) -> None:
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.org_id == org_id, IdempotencyKey.expires_at <= func.now()
        )
    )
