from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwned


class IdempotencyKey(OrgOwned, Base):
    """The reply to a request sent with an ``Idempotency-Key``, kept for replays.

    A row exists only for completed requests: it is written in the same
    transaction as the request's own changes. A request still running is known
    by the advisory lock it holds on its key, which PostgreSQL releases by itself
    when the transaction ends, the connection drops or the process dies.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "org_id", "expires_at"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
