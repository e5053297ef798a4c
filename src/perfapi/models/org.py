import uuid

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from perfapi.db.base import Base, Timestamps


class Org(Timestamps, Base):
    """A tenant. Its ``id`` is the ``org_id`` that leads every other table's keys."""

    __tablename__ = "orgs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
