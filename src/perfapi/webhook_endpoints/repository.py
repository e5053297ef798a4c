"""SQL of outbound webhooks: endpoints, the fan-out of the log, claims and attempts."""

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.repository import created_sort_key, keyset_page
from perfapi.models import (
    Event,
    WebhookEndpoint,
    WebhookEndpointAttempt,
    WebhookEndpointDelivery,
)
from perfapi.vault.keys import Sealed
from perfapi.vault.sealing import current_secrets


async def get(session: AsyncSession, org_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
    endpoint: WebhookEndpoint | None = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.org_id == org_id, WebhookEndpoint.id == endpoint_id
        )
    )
    return endpoint


async def save(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def remove(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await session.delete(endpoint)
    await session.flush()


async def list_page(
    session: AsyncSession, org_id: UUID, *, after: Sequence[Any] | None, limit: int
) -> tuple[list[WebhookEndpoint], list[Any] | None]:
    return await keyset_page(
        session,
        select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id),
        order_by=[WebhookEndpoint.created_at, WebhookEndpoint.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


async def start_fanout_at(session: AsyncSession, org_id: UUID, position: int) -> None:
    """Where the org's first endpoint starts reading the log (kept if already set)."""
    await session.execute(
        text(
            "INSERT INTO webhook_fanout_marks (org_id, position) VALUES (:org_id, :position) "
            "ON CONFLICT (org_id) DO NOTHING"
        ),
        {"org_id": org_id, "position": position},
    )


async def orgs_to_fan_out(
    session: AsyncSession, limit: int, set_aside: Collection[UUID] = ()
) -> list[UUID]:
    """Orgs with an enabled endpoint and events past their fan-out mark, but for those
    ``set_aside`` (their fan-out failed lately)."""
    rows = await session.execute(
        text(
            "SELECT o.org_id FROM (SELECT DISTINCT org_id FROM webhook_endpoints WHERE enabled) o "
            "LEFT JOIN webhook_fanout_marks m ON m.org_id = o.org_id "
            "WHERE EXISTS (SELECT 1 FROM events e WHERE e.org_id = o.org_id "
            "AND e.position > COALESCE(m.position, 0)) "
            "AND NOT o.org_id = ANY(CAST(:set_aside AS uuid[])) "
            "LIMIT :limit"
        ),
        {"limit": limit, "set_aside": list(set_aside)},
    )
    return [org_id for (org_id,) in rows]


async def fan_out(session: AsyncSession, org_id: UUID, batch: int, now: datetime) -> int | None:
    """Add a delivery for each of the next ``batch`` events past the org's mark and each
    enabled endpoint subscribed to its type, and move the mark past them; how many
    events were read (None when another process holds the mark). Call in a transaction:
    the deliveries and the mark commit together, so each is added once."""
    await start_fanout_at(session, org_id, 0)
    mark = await session.scalar(
        text(
            "SELECT position FROM webhook_fanout_marks WHERE org_id = :org_id "
            "FOR UPDATE SKIP LOCKED"
        ),
        {"org_id": org_id},
    )
    if mark is None:
        return None
    read = (
        await session.execute(
            text(
                "SELECT count(*), max(position) FROM (SELECT position FROM events "
                "WHERE org_id = :org_id AND position > :mark ORDER BY position LIMIT :batch) b"
            ),
            {"org_id": org_id, "mark": mark, "batch": batch},
        )
    ).one()
    count, upto = int(read[0]), read[1]
    if not count:
        return 0
    await session.execute(
        text(
            "INSERT INTO webhook_endpoint_deliveries (org_id, id, endpoint_id, event_seq, "
            "status, next_attempt_at, attempts, manual, created_at) "
            "SELECT e.org_id, gen_random_uuid(), w.id, e.seq, 'pending', :now, 0, false, :now "
            "FROM events e JOIN webhook_endpoints w ON w.org_id = e.org_id AND w.enabled "
            "AND e.position > w.starts_after AND (e.type = ANY(w.events) OR '*' = ANY(w.events)) "
            "WHERE e.org_id = :org_id AND e.position > :mark AND e.position <= :upto "
            "ON CONFLICT DO NOTHING"
        ),
        {"org_id": org_id, "mark": mark, "upto": upto, "now": now},
    )
    await session.execute(
        text("UPDATE webhook_fanout_marks SET position = :upto WHERE org_id = :org_id"),
        {"org_id": org_id, "upto": upto},
    )
    return count


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt, with what the attempt sends."""

    org_id: UUID
    delivery_id: UUID
    endpoint_id: UUID
    attempts: int
    manual: bool
    url: str
    secrets: list[Sealed]
    """Stored (encrypted): the sender decrypts them, so one that does not decrypt fails
    that attempt alone."""
    event: Event
    # Whether the endpoint was failing when claimed: only then does a success write to it.
    failing: bool = True


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta
) -> list[Claimed]:
    """Up to ``limit`` due deliveries of enabled endpoints, leased until ``now + lease``:
    no other process claims them meanwhile, and if this one dies mid-send, they are
    due again when the lease runs out."""
    # One statement: the claim, and what each claimed delivery sends.
    claimed = (
        await session.execute(
            text(
                "WITH c AS (UPDATE webhook_endpoint_deliveries d SET next_attempt_at = :until "
                "FROM (SELECT d2.org_id, d2.id FROM webhook_endpoint_deliveries d2 "
                "JOIN webhook_endpoints w ON w.org_id = d2.org_id AND w.id = d2.endpoint_id "
                "WHERE d2.status = 'pending' AND d2.next_attempt_at <= :now AND w.enabled "
                "ORDER BY d2.next_attempt_at LIMIT :limit FOR UPDATE OF d2 SKIP LOCKED) c "
                "WHERE d.org_id = c.org_id AND d.id = c.id "
                "RETURNING d.org_id, d.id, d.endpoint_id, d.event_seq, d.attempts, d.manual) "
                "SELECT c.org_id, c.id, c.endpoint_id, c.event_seq, c.attempts, c.manual, "
                "w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, "
                "w.failing_since, e.position, e.type, e.created_at, e.data "
                "FROM c JOIN webhook_endpoints w ON w.org_id = c.org_id AND w.id = c.endpoint_id "
                "JOIN events e ON e.org_id = c.org_id AND e.seq = c.event_seq"
            ),
            {"now": now, "until": now + lease, "limit": limit},
        )
    ).all()
    found: list[Claimed] = []
    for row in claimed:
        # Unattached rows, for what reads them (the event's JSON, the secrets' places).
        endpoint = WebhookEndpoint(
            org_id=row.org_id,
            id=row.endpoint_id,
            secret=row.secret,
            previous_secret=row.previous_secret,
            previous_secret_expires_at=row.previous_secret_expires_at,
        )
        event = Event(
            org_id=row.org_id,
            seq=row.event_seq,
            position=row.position,
            type=row.type,
            created_at=row.created_at,
            data=row.data if isinstance(row.data, dict) else json.loads(row.data),
        )
        found.append(
            Claimed(
                org_id=row.org_id,
                delivery_id=row.id,
                endpoint_id=row.endpoint_id,
                attempts=row.attempts,
                manual=row.manual,
                url=row.url,
                secrets=current_secrets(endpoint, now),
                event=event,
                failing=row.failing_since is not None,
            )
        )
    return found


async def lock_delivery(
    session: AsyncSession, org_id: UUID, delivery_id: UUID
) -> WebhookEndpointDelivery | None:
    delivery: WebhookEndpointDelivery | None = await session.scalar(
        select(WebhookEndpointDelivery)
        .where(
            WebhookEndpointDelivery.org_id == org_id,
            WebhookEndpointDelivery.id == delivery_id,
        )
        # NO KEY UPDATE: attempts referencing the delivery may still be added.
        .with_for_update(key_share=True)
    )
    return delivery


@dataclass(frozen=True)
class Outcome:
    """An attempt and what it leaves its delivery at."""

    org_id: UUID
    endpoint_id: UUID
    delivery_id: UUID
    delivery_status: str
    next_attempt_at: datetime | None  # pending again: when
    attempts: int
    event_position: int
    event_type: str
    attempted_at: datetime
    trigger: str
    response_status: int | None
    duration_ms: int
    error: str | None
    response_body: str | None

    @property
    def attempt_status(self) -> str:
        return "succeeded" if self.delivery_status == "succeeded" else "failed"


async def record_attempt(session: AsyncSession, outcome: Outcome) -> bool:
    """Update the delivery and add its attempt, in one statement; False when the
    delivery is gone (its endpoint deleted, or its event dropped from the log)."""
    result = await session.execute(
        text(
            "WITH delivery AS (UPDATE webhook_endpoint_deliveries SET status = :delivery_status, "
            "next_attempt_at = COALESCE(CAST(:next_attempt_at AS timestamptz), next_attempt_at), "
            "attempts = :attempts, manual = false "
            "WHERE org_id = :org_id AND id = :delivery_id RETURNING org_id, id) "
            "INSERT INTO webhook_endpoint_attempts (org_id, id, endpoint_id, delivery_id, "
            "event_position, event_type, attempted_at, status, trigger, response_status, "
            "duration_ms, error, response_body) "
            "SELECT org_id, gen_random_uuid(), CAST(:endpoint_id AS uuid), id, "
            "CAST(:event_position AS bigint), CAST(:event_type AS text), "
            "CAST(:attempted_at AS timestamptz), CAST(:attempt_status AS text), "
            "CAST(:trigger AS text), CAST(:response_status AS integer), "
            "CAST(:duration_ms AS integer), CAST(:error AS text), CAST(:response_body AS text) "
            "FROM delivery RETURNING id"
        ),
        {
            "org_id": outcome.org_id,
            "endpoint_id": outcome.endpoint_id,
            "delivery_id": outcome.delivery_id,
            "delivery_status": outcome.delivery_status,
            "next_attempt_at": outcome.next_attempt_at,
            "attempts": outcome.attempts,
            "event_position": outcome.event_position,
            "event_type": outcome.event_type,
            "attempted_at": outcome.attempted_at,
            "attempt_status": outcome.attempt_status,
            "trigger": outcome.trigger,
            "response_status": outcome.response_status,
            "duration_ms": outcome.duration_ms,
            "error": outcome.error,
            "response_body": outcome.response_body,
        },
    )
    return result.first() is not None


async def give_up_pending(session: AsyncSession, org_id: UUID, endpoint_id: UUID) -> None:
    """Mark the endpoint's pending deliveries failed (it was disabled)."""
    await session.execute(
        update(WebhookEndpointDelivery)
        .where(
            WebhookEndpointDelivery.org_id == org_id,
            WebhookEndpointDelivery.endpoint_id == endpoint_id,
            WebhookEndpointDelivery.status == "pending",
        )
        .values(status="failed")
    )


async def get_attempt(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, attempt_id: UUID
) -> WebhookEndpointAttempt | None:
    attempt: WebhookEndpointAttempt | None = await session.scalar(
        select(WebhookEndpointAttempt).where(
            WebhookEndpointAttempt.org_id == org_id,
            WebhookEndpointAttempt.endpoint_id == endpoint_id,
            WebhookEndpointAttempt.id == attempt_id,
        )
    )
    return attempt


async def list_attempts_page(
    session: AsyncSession,
    org_id: UUID,
    endpoint_id: UUID,
    *,
    status: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[WebhookEndpointAttempt], list[Any] | None]:
    """Newest first."""
    statement = select(WebhookEndpointAttempt).where(
        WebhookEndpointAttempt.org_id == org_id,
        WebhookEndpointAttempt.endpoint_id == endpoint_id,
    )
    if status is not None:
        statement = statement.where(WebhookEndpointAttempt.status == status)
    return await keyset_page(
        session,
        statement,
        order_by=[WebhookEndpointAttempt.attempted_at, WebhookEndpointAttempt.id],
        sort_key=lambda attempt: [attempt.attempted_at, attempt.id],
        after=after,
        limit=limit,
        descending=True,
    )


async def wake_senders(session: AsyncSession, org_id: UUID) -> None:
    """At commit, wake the senders of every process (a retry was asked for)."""
    await session.execute(
        text("SELECT pg_notify('perfapi_events', :org_id)"), {"org_id": str(org_id)}
    )


async def clear_failing(session: AsyncSession, org_id: UUID, endpoint_id: UUID) -> None:
    """An attempt succeeded: the endpoint is failing no longer (written only if it was,
    so a healthy endpoint's row is left alone)."""
    await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.org_id == org_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )


async def note_failing(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, since: datetime
) -> None:
    """An attempt failed: the endpoint is failing from ``since`` unless it already was."""
    await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.org_id == org_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.failing_since.is_(None),
        )
        .values(failing_since=since)
    )


async def disable_if_failing_since(
    session: AsyncSession, org_id: UUID, endpoint_id: UUID, cutoff: datetime, now: datetime
) -> WebhookEndpoint | None:
    """Disable the endpoint if it is enabled and has failed since ``cutoff`` or before;
    the endpoint when it was disabled here."""
    endpoint: WebhookEndpoint | None = await session.scalar(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.org_id == org_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.enabled,
            WebhookEndpoint.failing_since <= cutoff,
        )
        .values(
            enabled=False,
            disabled_at=now,
            disabled_reason=text(
                "'every attempt has failed since ' || "
                "to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            ),
        )
        .returning(WebhookEndpoint)
        .execution_options(populate_existing=True)
    )
    return endpoint
