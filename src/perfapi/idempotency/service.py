"""``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header).

The same key with the same request replays the first reply (status and body);
the same key with another request is 422; while the first is still running, 409.
A request that fails stores nothing, so it can be retried under the same key.
"""

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.errors import ConflictError, FieldError, ProblemError
from perfapi.idempotency import repository

MAX_KEY_LENGTH = 255


class IdempotencyKeyReusedError(ProblemError):
    """A 422 like every other: its ``errors`` name the header, as the document says."""

    status = 422
    slug = "idempotency-key-reused"

    def __init__(self) -> None:
        message = "This Idempotency-Key was used for a different request; use a new key."
        error = FieldError(loc=["header", "Idempotency-Key"], message=message, type="reused")
        super().__init__(message, extra={"errors": [error.model_dump()]})


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    replayed: bool


class Fingerprint:
    """A hash of what identifies a request: method, path, media type and body bytes."""

    def __init__(self, *parts: str) -> None:
        self._hash = hashlib.sha256("\n".join(parts).encode())

    async def through(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._hash.update(chunk)
            yield chunk

    def digest(self) -> bytes:
        return self._hash.digest()


async def run_once(
    session: AsyncSession,
    org_id: UUID,
    key: str,
    fingerprint: Fingerprint,
    chunks: AsyncIterator[bytes],
    work: Callable[[AsyncIterator[bytes]], Awaitable[tuple[int, dict[str, Any]]]],
    retention: timedelta,
) -> Reply:
    if not await repository.try_lock(session, org_id, key):
        raise ConflictError(
            "A request with this Idempotency-Key is still being processed; retry later.",
            headers={"Retry-After": "1"},
        )
    earlier = await repository.find_live(session, org_id, key)
    if earlier is not None:
        async for _ in fingerprint.through(chunks):
            pass
        if fingerprint.digest() != earlier.fingerprint:
            raise IdempotencyKeyReusedError()
        return Reply(earlier.response_status, earlier.response_body, replayed=True)
    status, body = await work(fingerprint.through(chunks))
    await repository.record(session, org_id, key, fingerprint.digest(), status, body, retention)
    await repository.purge_expired(session, org_id)
    return Reply(status, body, replayed=False)
