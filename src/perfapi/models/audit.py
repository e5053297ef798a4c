"""The audit log: who changed what, recorded in the transaction that made the change.

An entry commits with its change or not at all, so the log never claims a write
that was rolled back and never misses one that committed. Entries are only ever
inserted, and deleted when older than the retention.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwnedWithId, one_of

ACTOR_TYPES = ("api_key", "jwt", "cli")


class AuditEvent(OrgOwnedWithId, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # The list, newest first, and retention (oldest first).
        Index(None, "org_id", "at", "id"),
        # One resource's history, and one actor's.
        Index(None, "org_id", "resource_type", "resource_id", "at"),
        Index(None, "org_id", "actor_id", "at"),
        CheckConstraint(one_of("actor_type", ACTOR_TYPES), name="actor_type"),
    )

    # clock_timestamp, not now(): the entries of one transaction keep the order they
    # were recorded in (now() is the same for all of them).
    at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(Text)
    # Null for a request that writes no single resource (points ingestion).
    resource_id: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Null outside a request (a CLI command).
    request_id: Mapped[str | None] = mapped_column(Text)
