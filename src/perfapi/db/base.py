"""Declarative base with PostgreSQL-style constraint names and shared column mixins."""

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The names PostgreSQL itself would choose, so constraint names in errors and in
# migrations read the same whether a constraint was made by hand or by alembic.
NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OrgOwned:
    """``org_id`` first, then ``id``: the primary key every tenant table starts with."""

    # sort_order puts mixin columns first, so the primary key reads (org_id, id).
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
    )


class OrgOwnedWithId(OrgOwned):
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-1)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that a text column holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"
