from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwnedWithId, Timestamps


class ApiKey(OrgOwnedWithId, Timestamps, Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index(None, "org_id", "created_at", "id"),
        # The one index not led by org_id: a request names its key before perfapi
        # knows its org. Unique random prefixes make it a point lookup; in a
        # tenant-distributed setup it stays valid (a fan-out lookup, or api_keys
        # as a reference table).
        Index(None, "prefix", unique=True),
        CheckConstraint("rate_limit_per_minute > 0", name="rate_limit"),
    )

    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # NULL: the server's default (PERFAPI_RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
