"""Sending events to webhook endpoints: a background task in every server process.

A round fans the org's new events out into deliveries (``repository.fan_out``),
claims due deliveries under a lease, and sends each as a task of its own, at most
``PERFAPI_WEBHOOK_SENDERS`` at once. Each attempt is recorded with its outcome: a
2xx delivers; anything else is tried again on ``PERFAPI_WEBHOOK_RETRY_SCHEDULE``
until the schedule is spent. Delivery is at least once: a delivery is done only
when its success is recorded, and one whose sender died mid-send (or whose record
failed) is claimed again when its lease runs out, so a receiver may see an event
twice, with the same ``webhook-id``. An endpoint whose every attempt failed for
``PERFAPI_WEBHOOK_DISABLE_AFTER_SECONDS`` (3 days) is disabled, with an
``endpoint.disabled`` event. A round wakes at each commit of events (the same
notification the live stream uses) and at least every
``PERFAPI_WEBHOOK_DELIVERY_SECONDS``.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.domain.retries import retry_delay
from perfapi.events import service as events
from perfapi.events.signals import EventSignals
from perfapi.events.types import EventType
from perfapi.kit.backoff import Backoff
from perfapi.vault.keys import KeyUnavailableError, SecretUnreadableError
from perfapi.vault.setup import keyring_of
from perfapi.webhook_endpoints import repository
from perfapi.webhook_endpoints.repository import Claimed
from perfapi.webhook_endpoints.sender import Answer, Sender
from perfapi.webhook_endpoints.signing import signed_headers

log = logging.getLogger(__name__)

FANOUT_BATCH = 1_000
"""Events fanned out per transaction."""
ORGS_PER_ROUND = 100
LEASE_MARGIN_SECONDS = 5.0
"""A claim outlives the attempt's timeout by this much, for recording its outcome."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)


async def _fan_out(
    session: AsyncSession, now: datetime, backoff: Backoff, failures: Counter | None
) -> bool:
    """A batch of every org's new events, each org under a savepoint: one that fails is
    logged, counted and set aside a while, and holds up no other. Whether an org has
    more to fan out."""
    more = False
    orgs = await repository.orgs_to_fan_out(session, ORGS_PER_ROUND, backoff.set_aside(now))
    for org_id in orgs:
        try:
            async with session.begin_nested():
                read = await repository.fan_out(session, org_id, FANOUT_BATCH, now)
            more = more or read == FANOUT_BATCH
        except Exception as exc:
            if is_database_unavailable(exc):
                raise
            log.exception("fanning out the events of org %s failed", org_id)
            backoff.failed(org_id, now)
            if failures is not None:
                failures.inc()
        else:
            backoff.succeeded(org_id)
    return more


async def fan_out_and_claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    limit: int,
    backoff: Backoff | None = None,
    failures: Counter | None = None,
) -> tuple[list[Claimed], bool]:
    """A sender's round in one transaction: a batch of new events fanned out, then up to
    ``limit`` due deliveries claimed; and whether more events wait to be fanned out."""
    async with sessionmaker() as session, session.begin():
        more = await _fan_out(session, now, backoff or Backoff(), failures)
        claimed = await repository.claim_due(session, now, limit, lease(settings)) if limit else []
    return claimed, more


async def attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: Sender,
    claimed: Claimed,
    clock: Clock = _utc_now,
) -> Answer:
    """Send one claimed delivery and record what came of it."""
    assert claimed.event.position is not None
    body = events.as_json(claimed.event).encode()
    sent_at = clock()
    secrets, refusal = _signing_secrets(settings, claimed)
    if refusal is not None:
        # Recorded as a failed attempt, retried on the schedule like any other.
        answer = Answer(status=None, body=None, error=refusal, duration_ms=0)
    else:
        headers = signed_headers(
            events.event_id(claimed.event.position), int(sent_at.timestamp()), body, secrets
        )
        answer = await sender.post(claimed.url, headers, body)
    await record(sessionmaker, settings, claimed, sent_at, answer)
    return answer


def _signing_secrets(settings: Settings, claimed: Claimed) -> tuple[list[str], str | None]:
    """The endpoint's secrets, decrypted; or why not, for the attempt's error (logged)."""
    try:
        keyring = keyring_of(settings)
    except KeyUnavailableError as exc:
        log.error("webhook delivery: the secret keys cannot be read: %s", exc)
        return [], "not sent: the server's secret keys cannot be read (see its log)"
    try:
        return [keyring.open(sealed) for sealed in claimed.secrets], None
    except SecretUnreadableError as exc:
        log.error(
            "webhook endpoint %s: its signing secret cannot be decrypted: %s",
            claimed.endpoint_id,
            exc,
            extra={"org_id": str(claimed.org_id), "endpoint_id": str(claimed.endpoint_id)},
        )
        return [], f"not sent: the signing secret cannot be decrypted: {exc}"


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: Claimed,
    sent_at: datetime,
    answer: Answer,
) -> None:
    org_id, endpoint_id = claimed.org_id, claimed.endpoint_id
    status, next_attempt_at = "succeeded", None
    if not answer.succeeded:
        delay = None
        if not claimed.manual:
            delay = retry_delay(
                settings.webhook_retry_schedule, claimed.attempts + 1, random.random()
            )
        status = "failed" if delay is None else "pending"
        if delay is not None:
            next_attempt_at = sent_at + timedelta(seconds=delay)
    assert claimed.event.position is not None
    async with sessionmaker() as session, session.begin():
        # The endpoint's row before the delivery's: the order every writer locks them in.
        if not answer.succeeded:
            await repository.note_failing(session, org_id, endpoint_id, sent_at)
        elif claimed.failing:
            await repository.clear_failing(session, org_id, endpoint_id)
        await repository.record_attempt(
            session,
            repository.Outcome(
                org_id=org_id,
                endpoint_id=endpoint_id,
                delivery_id=claimed.delivery_id,
                delivery_status=status,
                next_attempt_at=next_attempt_at,
                attempts=claimed.attempts + (0 if claimed.manual else 1),
                event_position=claimed.event.position,
                event_type=claimed.event.type,
                attempted_at=sent_at,
                trigger="manual" if claimed.manual else "scheduled",
                response_status=answer.status,
                duration_ms=answer.duration_ms,
                error=answer.error,
                response_body=answer.body,
            ),
        )
    if not answer.succeeded:
        await disable_if_failing_too_long(sessionmaker, settings, org_id, endpoint_id, sent_at)


async def disable_if_failing_too_long(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    org_id: UUID,
    endpoint_id: UUID,
    now: datetime,
) -> bool:
    cutoff = now - timedelta(seconds=settings.webhook_disable_after_seconds)
    async with sessionmaker() as session, session.begin():
        endpoint = await repository.disable_if_failing_since(
            session, org_id, endpoint_id, cutoff, now
        )
        if endpoint is None:
            return False
        await repository.give_up_pending(session, org_id, endpoint_id)
        await events.record(
            session,
            org_id,
            EventType.ENDPOINT_DISABLED,
            {
                "endpoint": {
                    "id": endpoint.id,
                    "url": endpoint.url,
                    "description": endpoint.description,
                },
                "failing_since": endpoint.failing_since,
                "reason": endpoint.disabled_reason,
            },
        )
    log.warning("webhook endpoint %s of org %s disabled", endpoint_id, org_id)
    return True


async def attempt_counted(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: Sender,
    claimed: Claimed,
    attempts: Counter,
    failures: Counter,
) -> None:
    """One attempt, whatever happens: a failure here is logged and counted, and the
    delivery is claimed again when its lease runs out."""
    try:
        answer = await attempt(sessionmaker, settings, sender, claimed)
    except Exception as exc:
        log.warning(
            "recording a webhook attempt of org %s failed",
            claimed.org_id,
            exc_info=not is_database_unavailable(exc),
        )
        failures.inc()
    else:
        attempts.labels("succeeded" if answer.succeeded else "failed").inc()


async def deliver_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    signals: EventSignals,
    attempts: Counter,
    failures: Counter,
) -> None:
    sender = Sender(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
    )
    wake = signals.watch_all()
    backoff = Backoff()
    sending: set[asyncio.Task[None]] = set()
    try:
        while True:
            wake.clear()  # before reading: a commit during the round wakes the next wait
            free = settings.webhook_senders - len(sending)
            claimed: list[Claimed] = []
            more = False
            try:
                claimed, more = await fan_out_and_claim(
                    sessionmaker, settings, _utc_now(), max(free, 0), backoff, failures
                )
            except Exception as exc:
                log.warning("webhook delivery failed", exc_info=not is_database_unavailable(exc))
            for item in claimed:
                task = asyncio.create_task(
                    attempt_counted(sessionmaker, settings, sender, item, attempts, failures)
                )
                sending.add(task)
                task.add_done_callback(sending.discard)
            if more and free > len(claimed):
                continue  # more events to fan out, and senders free for them
            if claimed and len(claimed) == free:
                # More may be due: claim again as soon as a sender is free.
                await asyncio.wait(set(sending), return_when=asyncio.FIRST_COMPLETED)
                continue
            woken = asyncio.create_task(wake.wait())
            # A finished send matters only when every sender was busy.
            full = len(sending) >= settings.webhook_senders
            await asyncio.wait(
                {woken, *(sending if full else ())},
                timeout=settings.webhook_delivery_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            woken.cancel()
    finally:
        signals.unwatch_all(wake)
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
        await sender.aclose()
