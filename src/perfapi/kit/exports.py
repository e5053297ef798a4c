"""CSV and NDJSON exports of list endpoints: every page, streamed, one snapshot.

``?format=csv|ndjson`` or ``Accept: text/csv`` / ``Accept: application/x-ndjson``
turns a list endpoint into a download of every matching row (pagination
parameters are ignored). Rows are read in keyset batches inside one read-only
REPEATABLE READ transaction, so a long export sees one consistent state and
memory stays flat however many rows there are.

Every CSV cell goes through ``csv_cell``, which decides by the value's type:
text from users is neutralised against formula (CSV) injection, values perfapi
formats itself (numbers, booleans, ids, timestamps, dates, enum members) are
written as they are. NDJSON carries every value exactly.
"""

import csv
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.db.session import get_sessionmaker

RowT = TypeVar("RowT")

EXPORT_BATCH_SIZE = 1000
CSV_MEDIA_TYPE = "text/csv"
NDJSON_MEDIA_TYPE = "application/x-ndjson"
CSV_LIST_SEPARATOR = ";"
# OWASP CSV injection: a text cell starting with one of these is run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_ESCAPE = "'"

PageFetcher = Callable[
    [AsyncSession, list[Any] | None, int], Awaitable[tuple[Sequence[RowT], list[Any] | None]]
]


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    NDJSON = "ndjson"


def _negotiate(
    request: Request,
    format: Annotated[
        ExportFormat | None,
        Query(
            description="`csv` or `ndjson` streams every matching row (no pagination); "
            "`json` (default) is the paginated list. `Accept: text/csv` or "
            "`Accept: application/x-ndjson` work as well."
        ),
    ] = None,
) -> ExportFormat:
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    if CSV_MEDIA_TYPE in accept:
        return ExportFormat.CSV
    if NDJSON_MEDIA_TYPE in accept:
        return ExportFormat.NDJSON
    return ExportFormat.JSON


ExportFormatParam = Annotated[ExportFormat, Depends(_negotiate)]


def export_responses(description: str = "The list.") -> dict[int | str, dict[str, Any]]:
    """The 200 of a list endpoint: JSON, or one of the streamed exports."""
    text = {"schema": {"type": "string"}}
    return {
        200: {
            "description": description + " With `format=csv|ndjson`, every row, streamed.",
            "content": {CSV_MEDIA_TYPE: text, NDJSON_MEDIA_TYPE: text},
        }
    }


class Formatted(str):
    """Text perfapi formatted itself (a timestamp, say): written to CSV as is, never neutralised."""

    __slots__ = ()


def neutralise_formula(text: str) -> str:
    """``text`` prefixed with ``'`` when a spreadsheet would run it as a formula (OWASP)."""
    return FORMULA_ESCAPE + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_cell(value: Any) -> Any:
    """One CSV cell, decided by the value's type, never by its content.

    A ``str`` is text a user wrote and is neutralised; a list is joined with ``;``,
    each text part neutralised. Numbers (negative ones too), booleans, null, enum
    members, ``Formatted`` text and other typed values (UUIDs, timestamps, dates,
    decimals) are perfapi's own and keep the format they have in JSON.
    """
    kind = type(value)
    if kind is str:
        return neutralise_formula(value)
    if kind is float or kind is int or value is None:
        return value
    if kind is bool:
        return "true" if value else "false"  # as in JSON, not Python's True
    if kind is UUID or kind is date:
        return str(value)  # as in JSON: canonical UUID, YYYY-MM-DD
    if kind is datetime:
        return to_jsonable_python(value)  # as in JSON: RFC 3339, Z for UTC
    if isinstance(value, Formatted):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        return CSV_LIST_SEPARATOR.join(str(csv_cell(part)) for part in value)
    return to_jsonable_python(value)


def flat_row(item: BaseModel) -> dict[str, Any]:
    """An item's typed values, nested objects spread into dotted columns.

    Values stay Python-typed (``csv_cell`` turns them into cells), so text and
    the values perfapi formats itself can be told apart.
    """
    row: dict[str, Any] = {}
    for name, value in item.model_dump().items():
        if isinstance(value, dict):
            for key, inner in value.items():
                row[f"{name}.{key}"] = inner
        else:
            row[name] = value
    return row


ItemsOf = Callable[[AsyncSession, Sequence[RowT]], Awaitable[Sequence[BaseModel]]]


async def _items(
    request: Request, fetch_page: PageFetcher[RowT], items_of: ItemsOf[RowT]
) -> AsyncIterator[BaseModel]:
    async with get_sessionmaker(request)() as session:
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        after: list[Any] | None = None
        while True:
            rows, after = await fetch_page(session, after, EXPORT_BATCH_SIZE)
            for item in await items_of(session, rows):
                yield item
            if after is None:
                return


async def _csv_chunks(
    items: AsyncIterator[BaseModel],
    columns: list[str],
    to_row: Callable[[BaseModel], dict[str, Any]],
) -> AsyncIterator[str]:
    lines = _Lines()
    writer = csv.DictWriter(lines, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    async for item in items:
        writer.writerow({name: csv_cell(value) for name, value in to_row(item).items()})
        if len(lines.rows) == 500:
            yield lines.take()
    yield lines.take()


class _Lines:
    """Rows from a csv writer, which ends them in CRLF so it quotes every field holding a
    CR or LF (a bare CR in an unquoted field would start a new row, first cell a formula);
    kept ending in LF."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def write(self, row: str) -> int:
        self.rows.append(row[:-2] + "\n")
        return len(row)

    def take(self) -> str:
        text = "".join(self.rows)
        self.rows.clear()
        return text


async def _ndjson_chunks(items: AsyncIterator[BaseModel]) -> AsyncIterator[str]:
    lines: list[str] = []
    async for item in items:
        lines.append(json.dumps(item.model_dump(mode="json"), separators=(",", ":")))
        if len(lines) == 500:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


async def export_response(
    request: Request,
    export_format: ExportFormat,
    *,
    fetch_page: PageFetcher[RowT],
    item_model: type[BaseModel],
    filename: str,
    to_item: Callable[[RowT], BaseModel] | None = None,
    items_of: ItemsOf[RowT] | None = None,
    csv_columns: list[str] | None = None,
    csv_row: Callable[[BaseModel], dict[str, Any]] = flat_row,
) -> StreamingResponse:
    """Stream every row ``fetch_page`` yields as CSV or NDJSON.

    Rows become items one by one (``to_item``) or a batch at a time (``items_of``,
    for items computed from more than their row). CSV columns default to the
    item model's fields, with ``flat_row`` flattening each item; a resource with
    columns known only at run time passes both. A ``csv_row`` returns typed values
    (text as ``str``): ``csv_cell`` makes every cell.
    """
    if items_of is None:
        assert to_item is not None
        convert = to_item

        async def items_of(_session: AsyncSession, rows: Sequence[RowT]) -> list[BaseModel]:
            return [convert(row) for row in rows]

    items = _items(request, fetch_page, items_of)
    if export_format is ExportFormat.CSV:
        columns = csv_columns or list(item_model.model_fields)
        chunks = _csv_chunks(items, columns, csv_row)
        media_type, extension = f"{CSV_MEDIA_TYPE}; charset=utf-8", "csv"
    else:
        chunks = _ndjson_chunks(items)
        media_type, extension = NDJSON_MEDIA_TYPE, "ndjson"
    # The first chunk is produced before the status line is sent: a failing query
    # then still answers a problem, instead of a 200 with a cut-off body.
    first = await anext(chunks, "")
    return StreamingResponse(
        _prepend(first, chunks),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{extension}"'},
    )


async def _prepend(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


def computed_export(
    items: Sequence[BaseModel],
    export_format: ExportFormat,
    *,
    item_model: type[BaseModel],
    filename: str,
) -> StreamingResponse:
    """Rows already computed in memory (report rows, series buckets), as CSV or NDJSON."""

    async def rows() -> AsyncIterator[BaseModel]:
        for item in items:
            yield item

    if export_format is ExportFormat.CSV:
        chunks = _csv_chunks(rows(), list(item_model.model_fields), flat_row)
        media_type, extension = f"{CSV_MEDIA_TYPE}; charset=utf-8", "csv"
    else:
        chunks = _ndjson_chunks(rows())
        media_type, extension = NDJSON_MEDIA_TYPE, "ndjson"
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{extension}"'},
    )
