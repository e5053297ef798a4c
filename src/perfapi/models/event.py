"""The event log: every change perfapi makes, recorded in the transaction that makes it.

An event is inserted with the change (a transactional outbox: nothing is
announced that did not commit, nothing committed goes unannounced). Its
``position``, the order consumers read events in, is given at commit by a
deferred trigger holding a per-org lock, so an org's positions follow the order
its transactions committed in: a reader that has seen position n never later
finds an event of that org below n.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, OrgOwned


class Event(OrgOwned, Base):
    __tablename__ = "events"
    __table_args__ = (
        Index(None, "org_id", "position", unique=True),
        Index(None, "org_id", "created_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    # Null only until the inserting transaction commits.
    position: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
