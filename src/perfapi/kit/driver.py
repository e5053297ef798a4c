"""Reads of thousands of rows through the session's own asyncpg connection.

SQLAlchemy's per-row result processing (a Row for each, every UUID converted to
the standard library's) costs a report several times what asyncpg's decoding
of the same rows does. The few statements that read rows by the thousand are
compiled once from their Core statement and run by the driver, on the session's
connection, in its transaction and snapshot. asyncpg's UUIDs subclass uuid.UUID
and hash, compare and serialise as the standard library's do.

Parameters go to asyncpg as they are: only for statements whose values need no
conversion by a SQLAlchemy type (ids, dates, timestamps, numbers, text, arrays).

Rows stay the driver's records: :func:`record_class` makes them answer to their
column names as attributes, as a NamedTuple would, without copying each row into
one. Repositories describe such rows to the type checker with a Protocol.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from asyncpg import Record
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

# SQLAlchemy's dialect classes are untyped; this one only compiles.
_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class DriverStatement:
    """SQL with positional ``$n`` parameters, which take the values named in ``names``."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # values the statement binds itself, such as LIMIT 1

    @classmethod
    def of(cls, statement: ClauseElement) -> "DriverStatement":
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)  # a SELECT's compiler
        fixed = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(compiled.string, tuple(compiled.positiontup or ()), fixed)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.fixed[name] for name in self.names]


def record_class(name: str, fields: Sequence[str]) -> type[Any]:
    """A Record class whose rows answer to ``fields``, in column order, as attributes."""
    attributes = {field: property(itemgetter(index)) for index, field in enumerate(fields)}
    return type(name, (Record,), {"__slots__": (), **attributes})


async def fetch(
    session: AsyncSession,
    statement: DriverStatement,
    params: Mapping[str, Any],
    record_class: type[Any] | None = None,
) -> list[Any]:
    """The rows, as asyncpg Records (tuples that also answer to their column names with
    ``[name]``, and as attributes if of a :func:`record_class`)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # the session's connection is checked out and open
    if not driver.is_in_transaction():
        # SQLAlchemy begins the session's transaction on its first statement: run one
        # through it, or this read would see a snapshot of its own.
        await connection.exec_driver_sql("SELECT 1")
    records: list[Any] = await driver.fetch(
        statement.sql, *statement.arguments(params), record_class=record_class
    )
    return records
