"""Webhook endpoints: their configuration, secrets, and retries asked for by hand."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.config import Settings
from perfapi.errors import ConflictError, NotFoundError, ValidationFailedError
from perfapi.events import service as events
from perfapi.models import WebhookEndpoint, WebhookEndpointAttempt, WebhookEndpointDelivery
from perfapi.vault import sealing
from perfapi.vault.keys import Keyring
from perfapi.webhook_endpoints import repository
from perfapi.webhook_endpoints.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from perfapi.webhook_endpoints.signing import new_secret
from perfapi.webhook_endpoints.targets import TargetRefusedError, check_target
from perfapi.webhooks.schemas import RotateSecret

ENDPOINT_NOT_FOUND = "No webhook endpoint with this id."
RESOLVE_SECONDS = 5.0
"""How long checking a new URL may wait for DNS."""


class EndpointDisabledError(ConflictError):
    slug = "endpoint-disabled"


class AttemptSucceededError(ConflictError):
    slug = "attempt-succeeded"


class DeliveryPendingError(ConflictError):
    slug = "delivery-pending"


async def get(session: AsyncSession, org_id: UUID, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await repository.get(session, org_id, endpoint_id)
    if endpoint is None:
        raise NotFoundError(ENDPOINT_NOT_FOUND)
    return endpoint


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            await check_target(url, allow_private=settings.webhook_allow_private_targets)
    except TargetRefusedError as exc:
        raise ValidationFailedError.single(["body", "url"], str(exc), "target_refused") from None
    except TimeoutError:
        raise ValidationFailedError.single(
            ["body", "url"], "The URL's host did not resolve in time.", "target_refused"
        ) from None
    return url


def _unique(selectors: list[str]) -> list[str]:
    return list(dict.fromkeys(selectors))


async def create(
    session: AsyncSession,
    org_id: UUID,
    body: WebhookEndpointCreate,
    settings: Settings,
    keyring: Keyring,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint, and its signing secret in plaintext (to show once; it is stored
    encrypted)."""
    url = await _checked_url(body.url, settings)
    latest = await events.latest_position(session, org_id)
    await repository.start_fanout_at(session, org_id, latest)
    endpoint = WebhookEndpoint(
        id=uuid4(),  # now, not at flush: the encrypted secret is bound to it
        org_id=org_id,
        url=url,
        events=_unique(body.events),
        description=body.description,
        enabled=body.enabled,
        starts_after=latest,
    )
    secret = new_secret()
    sealing.issue(endpoint, keyring, secret)
    saved = await repository.save(session, endpoint)
    await audit.record(
        session, org_id, Action.WEBHOOK_ENDPOINT_CREATED, saved.id, audit_changes.created(saved)
    )
    return saved, secret


async def update(
    session: AsyncSession,
    org_id: UUID,
    endpoint_id: UUID,
    body: WebhookEndpointUpdate,
    settings: Settings,
) -> WebhookEndpoint:
    endpoint = await get(session, org_id, endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    if "url" in changes:
        changes["url"] = await _checked_url(changes["url"], settings)
    if "events" in changes:
        changes["events"] = _unique(changes["events"])
    if changes.get("enabled") and not endpoint.enabled:
        # Enabled again: it gets what commits from now on, and a clean record.
        endpoint.starts_after = await events.latest_position(session, org_id)
        await repository.start_fanout_at(session, org_id, endpoint.starts_after)
        endpoint.failing_since = None
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
    disabling = changes.get("enabled") is False and endpoint.enabled
    recorded = audit_changes.snapshot(endpoint)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    # The endpoint's row first, then its deliveries: the order senders lock them in.
    endpoint = await repository.save(session, endpoint)
    if disabling:
        await repository.give_up_pending(session, org_id, endpoint.id)
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_ENDPOINT_UPDATED,
        endpoint.id,
        audit_changes.updated(recorded, endpoint),
    )
    return endpoint


async def remove(session: AsyncSession, org_id: UUID, endpoint_id: UUID) -> None:
    endpoint = await get(session, org_id, endpoint_id)
    recorded = audit_changes.snapshot(endpoint)
    await repository.remove(session, endpoint)
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_ENDPOINT_DELETED,
        endpoint_id,
        audit_changes.deleted(recorded),
    )


async def rotate_secret(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, body: RotateSecret, keyring: Keyring
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned in plaintext, to show once); deliveries are signed with the
    current one as well for ``overlap_seconds``, so receivers can switch at their pace."""
    endpoint = await get(session, org_id, endpoint_id)
    recorded = audit_changes.snapshot(endpoint)
    secret = new_secret()
    sealing.rotate(endpoint, keyring, secret, body.overlap_seconds, datetime.now(UTC))
    saved = await repository.save(session, endpoint)
    # Only that the secret changed, and until when the previous one stays valid.
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_ENDPOINT_SECRET_ROTATED,
        saved.id,
        audit_changes.updated(recorded, saved),
    )
    return saved, secret


async def get_attempt(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, attempt_id: UUID
) -> WebhookEndpointAttempt:
    attempt = await repository.get_attempt(session, org_id, endpoint_id, attempt_id)
    if attempt is None:
        raise NotFoundError("No attempt with this id for this endpoint.")
    return attempt


async def retry(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, attempt_id: UUID, now: datetime
) -> tuple[WebhookEndpointDelivery, WebhookEndpointAttempt]:
    """Send a failed attempt's event again, once, as soon as a sender is free."""
    endpoint = await get(session, org_id, endpoint_id)
    attempt = await get_attempt(session, org_id, endpoint_id, attempt_id)
    if not endpoint.enabled:
        raise EndpointDisabledError(
            "The endpoint is disabled; enable it (PATCH enabled: true) to retry its attempts."
        )
    if attempt.status != "failed":
        raise AttemptSucceededError("This attempt succeeded; only a failed attempt is retried.")
    delivery = await repository.lock_delivery(session, org_id, attempt.delivery_id)
    if delivery is None:
        raise NotFoundError("The attempt's event is no longer kept.")
    if delivery.status == "pending":
        raise DeliveryPendingError(
            "The event is already due to be sent again, at "
            f"{delivery.next_attempt_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}."
        )
    status = delivery.status
    delivery.status = "pending"
    delivery.manual = True
    delivery.next_attempt_at = now
    await session.flush()
    await repository.wake_senders(session, org_id)
    # The attempt names what was retried (unchanged, so old = new).
    await audit.record(
        session,
        org_id,
        Action.WEBHOOK_ENDPOINT_ATTEMPT_RETRIED,
        endpoint_id,
        {"attempt_id": (attempt_id, attempt_id), "delivery_status": (status, "pending")},
    )
    return delivery, attempt
