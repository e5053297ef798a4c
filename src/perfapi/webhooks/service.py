"""Webhook sources, and receiving their deliveries: verify, deduplicate, map, store."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.errors import NotFoundError, ProblemError, ValidationFailedError
from perfapi.models import WebhookDelivery, WebhookSource
from perfapi.points.service import JSON, ingest
from perfapi.webhooks import repository
from perfapi.webhooks.mapping import MappingError, points_of
from perfapi.webhooks.schemas import (
    RotateSecret,
    Scheme,
    WebhookSourceCreate,
    WebhookSourceUpdate,
)
from perfapi.webhooks.signatures import (
    SignatureError,
    body_digest,
    id_key,
    new_secret,
    verify_hmac,
    verify_standard,
)

DEFAULT_SIGNATURE_HEADER = "X-Signature"
SOURCE_NOT_FOUND = "No webhook source with this id."


async def get(session: AsyncSession, org_id: UUID, source_id: UUID) -> WebhookSource:
    source = await repository.get(session, org_id, source_id)
    if source is None:
        raise NotFoundError(SOURCE_NOT_FOUND)
    return source


def _dumped_mappings(mappings: list[Any]) -> list[dict[str, Any]]:
    return [mapping.model_dump(exclude_none=True) for mapping in mappings]


async def create(session: AsyncSession, org_id: UUID, body: WebhookSourceCreate) -> WebhookSource:
    hmac_only = {
        "signature_header": body.signature_header,
        "delivery_id_header": body.delivery_id_header,
    }
    if body.scheme is Scheme.STANDARD:
        misplaced = [name for name, value in hmac_only.items() if value is not None]
        if misplaced:
            raise ValidationFailedError.single(
                ["body", misplaced[0]],
                "Only hmac_sha256 sources take this header; standard uses webhook-* headers.",
                "scheme",
            )
    source = WebhookSource(
        org_id=org_id,
        name=body.name,
        scheme=body.scheme.value,
        signature_header=(
            body.signature_header or DEFAULT_SIGNATURE_HEADER
            if body.scheme is Scheme.HMAC_SHA256
            else None
        ),
        delivery_id_header=body.delivery_id_header,
        mappings=_dumped_mappings(body.mappings),
        enabled=body.enabled,
        rate_limit_per_minute=body.rate_limit_per_minute,
        secret=new_secret(body.scheme.value),
    )
    return await repository.save(session, source)


async def update(
    session: AsyncSession, org_id: UUID, source_id: UUID, body: WebhookSourceUpdate
) -> WebhookSource:
    source = await get(session, org_id, source_id)
    changes = body.model_dump(exclude_unset=True)
    if source.scheme == Scheme.STANDARD.value:
        for name in ("signature_header", "delivery_id_header"):
            if changes.get(name) is not None:
                raise ValidationFailedError.single(
                    ["body", name], "Only hmac_sha256 sources take this header.", "scheme"
                )
    if "mappings" in changes and body.mappings is not None:
        changes["mappings"] = _dumped_mappings(body.mappings)
    if source.scheme == Scheme.HMAC_SHA256.value and "signature_header" in changes:
        changes["signature_header"] = changes["signature_header"] or DEFAULT_SIGNATURE_HEADER
    for name, value in changes.items():
        setattr(source, name, value)
    return await repository.save(session, source)


async def rotate_secret(
    session: AsyncSession, org_id: UUID, source_id: UUID, body: RotateSecret
) -> WebhookSource:
    """A new secret; the current one stays valid for ``overlap_seconds``."""
    source = await get(session, org_id, source_id)
    source.previous_secret = source.secret if body.overlap_seconds else None
    source.previous_secret_expires_at = (
        datetime.now(UTC) + timedelta(seconds=body.overlap_seconds)
        if body.overlap_seconds
        else None
    )
    source.secret = new_secret(source.scheme)
    return await repository.save(session, source)


def _valid_secrets(source: WebhookSource, now: datetime) -> list[str]:
    valid = [source.secret]
    expires = source.previous_secret_expires_at
    if source.previous_secret and expires is not None and expires > now:
        valid.append(source.previous_secret)
    return valid


class InvalidSignatureError(ProblemError):
    status = 401
    slug = "invalid-signature"


def delivery_key(source: WebhookSource, headers: dict[str, str], body: bytes) -> str:
    """Check the signature; return the key that identifies this delivery among redeliveries."""
    now = datetime.now(UTC)
    try:
        if source.scheme == Scheme.STANDARD.value:
            return id_key(verify_standard(_valid_secrets(source, now), headers, body, now))
        header = (source.signature_header or DEFAULT_SIGNATURE_HEADER).lower()
        verify_hmac(_valid_secrets(source, now), headers.get(header), body)
    except SignatureError as exc:
        raise InvalidSignatureError(str(exc)) from None
    if source.delivery_id_header and headers.get(source.delivery_id_header.lower()):
        return id_key(headers[source.delivery_id_header.lower()])
    return body_digest(body)


@dataclass(frozen=True)
class Outcome:
    delivery: WebhookDelivery
    first_time: bool


async def _body_once(body: bytes) -> Any:
    yield body


async def process(session: AsyncSession, source: WebhookSource, delivery: WebhookDelivery) -> None:
    """Map the stored payload with the source's current mappings and upsert its points.

    Points go in under a savepoint: a payload that cannot be mapped or stored
    leaves the delivery recorded as failed, with the reason, and no points.
    """
    error: str | None = None
    written = 0
    try:
        points = points_of(json.loads(delivery.payload), source.mappings)
    except (ValueError, RecursionError) as exc:
        error = f"the payload is not JSON: {exc}"
    except MappingError as exc:
        error = str(exc)
    else:
        try:
            async with session.begin_nested():
                body = json.dumps({"points": points}).encode()
                result = await ingest(session, source.org_id, JSON, _body_once(body))
                # Every point the payload maps to, stored or already there: the same
                # on a replay, so a replay's record matches the first processing.
                written = result.received
        except ValidationFailedError as exc:
            error = _summary(exc)
    await repository.record_outcome(session, delivery, error, written)


def _summary(exc: ValidationFailedError) -> str:
    problems = exc.extra.get("errors", [])
    shown = "; ".join(
        f"point {problem['loc'][2] if len(problem['loc']) > 2 else '?'}: {problem['message']}"
        for problem in problems[:5]
    )
    more = exc.extra.get("errors_total", len(problems)) - min(len(problems), 5)
    return shown + (f"; and {more} more" if more > 0 else "")


async def receive(session: AsyncSession, source: WebhookSource, key: str, body: bytes) -> Outcome:
    """Store the verified delivery, or find the same one received before; process it if new."""
    delivery, first_time = await repository.claim_delivery(
        session, source.org_id, source.id, key, body
    )
    if first_time:
        await process(session, source, delivery)
    return Outcome(delivery=delivery, first_time=first_time)


async def replay(
    session: AsyncSession, org_id: UUID, source_id: UUID, delivery_id: UUID
) -> WebhookDelivery:
    source = await get(session, org_id, source_id)
    delivery = await repository.get_delivery(session, org_id, source_id, delivery_id)
    if delivery is None:
        raise NotFoundError("No delivery with this id for this source.")
    await process(session, source, delivery)
    return delivery
