"""The one piece of query plumbing every list shares: a keyset page of a Select."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

RowT = TypeVar("RowT")


async def keyset_page(
    session: AsyncSession,
    statement: Select[RowT],
    *,
    order_by: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    sort_key: Callable[[RowT], list[Any]],
    after: Sequence[Any] | None,
    limit: int,
    descending: bool = False,
) -> tuple[list[RowT], list[Any] | None]:
    """Return one page and the sort key to continue after (None on the last page)."""
    key = tuple_(*order_by)
    if after is not None:
        statement = statement.where(key < tuple_(*after) if descending else key > tuple_(*after))
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    rows = list((await session.scalars(statement.order_by(*ordering).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, sort_key(rows[-1])
