"""Webhook sources, and receiving their deliveries: verify, deduplicate, map, store."""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.errors import (
    NotFoundError,
    ProblemError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from perfapi.models import WebhookDelivery, WebhookSource
from perfapi.points.service import JSON, ingest
from perfapi.vault import sealing
from perfapi.vault.keys import Keyring
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

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE_HEADER = "X-Signature"
SOURCE_NOT_FOUND = "No webhook source with this id."


async def get(session: AsyncSession, org_id: UUID, source_id: UUID) -> WebhookSource:
    source = await repository.get(session, org_id, source_id)
    if source is None:
        raise NotFoundError(SOURCE_NOT_FOUND)
    return source


def _dumped_mappings(mappings: list[Any]) -> list[dict[str, Any]]:
    return [mapping.model_dump(exclude_none=True) for mapping in mappings]


async def create(
    session: AsyncSession, org_id: UUID, body: WebhookSourceCreate, keyring: Keyring
) -> tuple[WebhookSource, str]:
    """The new source, and its secret in plaintext (to show once; it is stored encrypted)."""
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
        id=uuid4(),  # now, not at flush: the encrypted secret is bound to it
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
    )
    secret = new_secret(body.scheme.value)
    sealing.issue(source, keyring, secret)
    saved = await repository.save(session, source)
    await audit.record(
        session, org_id, Action.WEBHOOK_SOURCE_CREATED, saved.id, audit_changes.created(saved)
    )
    return saved, secret


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
    recorded = audit_changes.snapshot(source)
    for name, value in changes.items():
        setattr(source, name, value)
    saved = await repository.save(session, source)
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_SOURCE_UPDATED,
        saved.id,
        audit_changes.updated(recorded, saved),
    )
    return saved


async def delete(session: AsyncSession, org_id: UUID, source_id: UUID) -> None:
    """Delete a source with its deliveries; the points it wrote stay."""
    source = await get(session, org_id, source_id)
    recorded = audit_changes.snapshot(source)
    await repository.remove(session, source)
    await audit.record(
        session, org_id, Action.WEBHOOK_SOURCE_DELETED, source_id, audit_changes.deleted(recorded)
    )


async def rotate_secret(
    session: AsyncSession, org_id: UUID, source_id: UUID, body: RotateSecret, keyring: Keyring
) -> tuple[WebhookSource, str]:
    """A new secret (returned in plaintext, to show once); the current one stays valid
    for ``overlap_seconds``."""
    source = await get(session, org_id, source_id)
    recorded = audit_changes.snapshot(source)
    secret = new_secret(source.scheme)
    sealing.rotate(source, keyring, secret, body.overlap_seconds, datetime.now(UTC))
    saved = await repository.save(session, source)
    # The secrets themselves are never recorded: only that they changed, and until
    # when the previous one stays valid.
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_SOURCE_SECRET_ROTATED,
        saved.id,
        audit_changes.updated(recorded, saved),
    )
    return saved, secret


class InvalidSignatureError(ProblemError):
    status = 401
    slug = "invalid-signature"


class SecretUnreadableError(ServiceUnavailableError):
    slug = "secret-unreadable"


def delivery_key(
    source: WebhookSource, headers: dict[str, str], body: bytes, keyring: Keyring
) -> str:
    """Check the signature; return the key that identifies this delivery among redeliveries."""
    now = datetime.now(UTC)
    secrets, unreadable = sealing.opened(keyring, sealing.current_secrets(source, now))
    try:
        if source.scheme == Scheme.STANDARD.value:
            return id_key(verify_standard(secrets, headers, body, now))
        header = (source.signature_header or DEFAULT_SIGNATURE_HEADER).lower()
        verify_hmac(secrets, headers.get(header), body)
    except SignatureError as exc:
        if unreadable:
            # Perhaps signed with the secret this server cannot read: not the sender's fault.
            # Logged only here, with the 503: a delivery a readable secret verifies is fine,
            # and logging before the check would let anyone fill the log.
            log.error(
                "a secret of webhook source %s cannot be decrypted: %s",
                source.id,
                "; ".join(map(str, unreadable)),
                extra={"org_id": str(source.org_id), "source_id": str(source.id)},
            )
            raise SecretUnreadableError(
                "This source's secret cannot be decrypted on this server, so the signature "
                "cannot be checked; nothing was stored. The operator has been told; retry later."
            ) from None
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
                # Not audited: the delivery log is the record of what a source sent.
                result = await ingest(session, source.org_id, JSON, _body_once(body), audited=False)
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
    outcome = ("status", "error", "points_written")
    recorded = audit_changes.snapshot(delivery, outcome)
    await process(session, source, delivery)
    # The delivery names what was replayed (unchanged, so old = new), then its outcome.
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_SOURCE_DELIVERY_REPLAYED,
        source_id,
        {
            "delivery_id": (delivery_id, delivery_id),
            **audit_changes.changed(recorded, audit_changes.snapshot(delivery, outcome)),
        },
    )
    return delivery
