"""Outbound webhooks (DESIGN 9): where an org's events go, and what became of each.

An endpoint subscribes to event types. A background fan-out reads the org's
event log after its mark and adds a delivery per event and subscribed endpoint;
deliveries are claimed by the sending workers of any process (leased, so a
process that dies mid-send leaves its deliveries to be claimed again) and each
try is kept as an attempt. Deliveries and attempts hang on the event they carry:
when the log drops an event, they go with it.
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwned, OrgOwnedWithId, Timestamps, one_of
from perfapi.models.webhook import SECRETS_ENCRYPTED

DELIVERY_STATUSES = ("pending", "succeeded", "failed")
ATTEMPT_STATUSES = ("succeeded", "failed")
ATTEMPT_TRIGGERS = ("scheduled", "manual")


class WebhookEndpoint(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index(None, "org_id", "created_at", "id"),
        CheckConstraint(SECRETS_ENCRYPTED, name="secrets_encrypted"),
    )

    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool]
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    # Events at or before this position of the org's log are not for this endpoint:
    # the last position when it was created or enabled again.
    starts_after: Mapped[int] = mapped_column(BigInteger)
    # The first failed attempt since the last one that succeeded: failing for long
    # enough disables the endpoint.
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookFanoutMark(OrgOwned, Base):
    """How far the org's event log has been fanned out to its endpoints."""

    __tablename__ = "webhook_fanout_marks"

    position: Mapped[int] = mapped_column(BigInteger)


class WebhookEndpointDelivery(OrgOwnedWithId, Base):
    """One event owed to one endpoint, until it is delivered or given up."""

    __tablename__ = "webhook_endpoint_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "endpoint_id"],
            ["webhook_endpoints.org_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["org_id", "event_seq"], ["events.org_id", "events.seq"], ondelete="CASCADE"
        ),
        UniqueConstraint("org_id", "endpoint_id", "event_seq"),
        Index(None, "org_id", "event_seq"),
        # What the senders look for, across orgs: pending deliveries by when they are
        # due. Not led by org_id: the claim takes the earliest due of every org (each
        # row still carries its org_id, so this stays valid distributed by tenant).
        Index(
            "webhook_endpoint_deliveries_due_idx",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
    )

    endpoint_id: Mapped[uuid.UUID]
    event_seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    # Due time while pending; a claimed delivery's lease runs until it.
    next_attempt_at: Mapped[datetime]
    # Scheduled attempts made so far; the retry schedule is indexed by it.
    attempts: Mapped[int] = mapped_column(Integer)
    # A retry asked for by hand: one attempt, then no schedule.
    manual: Mapped[bool]
    created_at: Mapped[datetime]


class WebhookEndpointAttempt(OrgOwnedWithId, Base):
    __tablename__ = "webhook_endpoint_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "delivery_id"],
            ["webhook_endpoint_deliveries.org_id", "webhook_endpoint_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index(None, "org_id", "endpoint_id", "attempted_at", "id"),
        Index(None, "org_id", "delivery_id"),
        CheckConstraint(one_of("status", ATTEMPT_STATUSES), name="status"),
        CheckConstraint(one_of("trigger", ATTEMPT_TRIGGERS), name="trigger"),
    )

    endpoint_id: Mapped[uuid.UUID]
    delivery_id: Mapped[uuid.UUID]
    event_position: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(Text)
    attempted_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
