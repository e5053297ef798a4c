"""The one piece of query plumbing every list shares: a keyset page of a Select."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Row, Select, any_, bindparam, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

RowT = TypeVar("RowT")
# Any Select, whatever its column types (Select is variadic in SQLAlchemy 2.1).
AnySelect = Select[*tuple[Any, ...]]
SelectT = TypeVar("SelectT", bound=AnySelect)
OrderColumns = Sequence[ColumnElement[Any] | QueryableAttribute[Any]]


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column = ANY(:values)``: one array parameter however many values.

    Expanding ``IN`` binds and renders a parameter per value, which for the
    thousands of ids a report passes costs more Python time than the query.
    """
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


def _keyset(
    statement: SelectT,
    order_by: OrderColumns,
    after: Sequence[Any] | None,
    limit: int,
    descending: bool,
) -> SelectT:
    key = tuple_(*order_by)
    if after is not None:
        statement = statement.where(key < tuple_(*after) if descending else key > tuple_(*after))
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    # One row more than asked tells whether another page follows.
    return statement.order_by(*ordering).limit(limit + 1)


def _split(
    rows: list[RowT], limit: int, sort_key: Callable[[RowT], list[Any]]
) -> tuple[list[RowT], list[Any] | None]:
    """The page and its last sort key, as typed values: exports feed it straight back
    as ``after``; pagination encodes it into a cursor."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, sort_key(rows[-1])


async def keyset_page(
    session: AsyncSession,
    statement: Select[RowT],
    *,
    order_by: OrderColumns,
    sort_key: Callable[[RowT], list[Any]],
    after: Sequence[Any] | None,
    limit: int,
    descending: bool = False,
) -> tuple[list[RowT], list[Any] | None]:
    """One page of ORM objects and the sort key to continue after (None on the last page)."""
    paged = _keyset(statement, order_by, after, limit, descending)
    return _split(list((await session.scalars(paged)).all()), limit, sort_key)


async def keyset_rows(
    session: AsyncSession,
    statement: AnySelect,
    *,
    order_by: OrderColumns,
    sort_key: Callable[[Row[Any]], list[Any]],
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[Row[Any]], list[Any] | None]:
    """Like :func:`keyset_page` for statements selecting several columns."""
    paged = _keyset(statement, order_by, after, limit, descending=False)
    return _split(list((await session.execute(paged)).all()), limit, sort_key)


class _Created(Protocol):
    created_at: datetime
    id: UUID


def created_sort_key(row: _Created) -> list[Any]:
    """The sort key of lists ordered by creation: ``[created_at, id]``."""
    return [row.created_at, row.id]
