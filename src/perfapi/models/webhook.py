import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwnedWithId, Timestamps, one_of

SCHEMES = ("standard", "hmac_sha256")
SECRETS_ENCRYPTED = (
    "secret LIKE 'v1.%' AND (previous_secret IS NULL OR previous_secret LIKE 'v1.%')"
)
"""Secrets are stored encrypted (perfapi.vault); plaintext is refused."""
DELIVERY_STATUSES = ("processed", "failed")


class WebhookSource(OrgOwnedWithId, Timestamps, Base):
    """A system that pushes signed webhooks, and how its payloads become points."""

    __tablename__ = "webhook_sources"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        Index(None, "org_id", "created_at", "id"),
        # Not led by org_id: the public receiver URL names only the source. Ids are
        # random UUIDs, so this stays valid when tables are distributed by tenant.
        Index(None, "id", unique=True),
        CheckConstraint(one_of("scheme", SCHEMES), name="scheme"),
        CheckConstraint("rate_limit_per_minute > 0", name="rate_limit"),
        CheckConstraint(SECRETS_ENCRYPTED, name="secrets_encrypted"),
    )

    name: Mapped[str] = mapped_column(Text)
    scheme: Mapped[str] = mapped_column(Text)
    signature_header: Mapped[str | None] = mapped_column(Text)
    delivery_id_header: Mapped[str | None] = mapped_column(Text)
    mappings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    enabled: Mapped[bool]
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]


class WebhookDelivery(OrgOwnedWithId, Base):
    """One received webhook, kept whatever became of it, so nothing received is lost."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "source_id"],
            ["webhook_sources.org_id", "webhook_sources.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("org_id", "source_id", "delivery_key"),
        Index(None, "org_id", "source_id", "received_at", "id"),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
    )

    source_id: Mapped[uuid.UUID]
    delivery_key: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    points_written: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    processed_at: Mapped[datetime]
