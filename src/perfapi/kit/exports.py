"""CSV and NDJSON exports of list endpoints: every page, streamed, one snapshot.

``?format=csv|ndjson`` or ``Accept: text/csv`` / ``Accept: application/x-ndjson``
turns a list endpoint into a download of every matching row (pagination
parameters are ignored). Rows are read in keyset batches inside one read-only
REPEATABLE READ transaction, so a long export sees one consistent state and
memory stays flat however many rows there are.
"""

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.db.session import get_sessionmaker

RowT = TypeVar("RowT")

EXPORT_BATCH_SIZE = 1000
CSV_MEDIA_TYPE = "text/csv"
NDJSON_MEDIA_TYPE = "application/x-ndjson"
CSV_LIST_SEPARATOR = ";"

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


def flat_row(item: BaseModel) -> dict[str, Any]:
    """A JSON-mode dump with lists joined and nested objects spread into dotted columns."""
    row: dict[str, Any] = {}
    for name, value in item.model_dump(mode="json").items():
        if isinstance(value, bool):
            row[name] = "true" if value else "false"  # as in JSON, not Python's True
        elif isinstance(value, list):
            row[name] = CSV_LIST_SEPARATOR.join(str(part) for part in value)
        elif isinstance(value, dict):
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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    async for item in items:
        writer.writerow(to_row(item))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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
    columns known only at run time passes both.
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
