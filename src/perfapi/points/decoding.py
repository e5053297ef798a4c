"""Request bodies to validated point rows: JSON whole, NDJSON and CSV as streams.

Each decoder yields batches of entries ``(key, position, row)``: the position is
the point's index in a JSON body or its line number in NDJSON and CSV, and
names it in error messages; the key sorts and deduplicates. Problems are
collected, not raised, so one 422 can list them all.
"""

import csv
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson

from perfapi.errors import BadRequestError
from perfapi.points.records import PointChecker, PointKey, PointRow

BATCH_SIZE = 10_000
Entry = tuple[PointKey, int, PointRow]

CSV_REQUIRED_COLUMNS = ("kpi", "ts", "value")
DIMENSION_COLUMN_PREFIX = "dim."


class MalformedJsonError(BadRequestError):
    slug = "malformed-json"


class Batcher:
    def __init__(self) -> None:
        self.rows: list[Entry] = []
        self.received = 0

    def add(self, position: int, checked: tuple[PointKey, PointRow] | None) -> list[Entry] | None:
        """Keep a valid point; return a full batch when one is ready."""
        self.received += 1
        if checked is not None:
            self.rows.append((checked[0], position, checked[1]))
            if len(self.rows) >= BATCH_SIZE:
                full, self.rows = self.rows, []
                return full
        return None


def decode_json(body: bytes, checker: PointChecker, batcher: Batcher) -> Iterator[list[Entry]]:
    """``{"points": [...]}``, parsed whole (the body size limit bounds it)."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJsonError(f"The body is not valid JSON: {exc}.") from None
    points = document.get("points") if isinstance(document, dict) else None
    if not isinstance(points, list):
        checker.problems.add(["body", "points"], 'expected {"points": [...]}', "missing")
        return
    extra = document.keys() - {"points"}
    if extra:
        checker.problems.add(
            ["body"], f"unknown field(s): {', '.join(sorted(extra))}", "extra_forbidden"
        )
    for index, obj in enumerate(points):
        batch = batcher.add(index, checker.from_object(index, obj))
        if batch is not None:
            yield batch
    if batcher.rows:
        yield batcher.rows


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Numbered lines of a byte stream, never holding more than one chunk and one line."""
    pending = b""
    number = 0
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            yield number, line
    if pending:
        yield number + 1, pending


async def decode_ndjson(
    chunks: AsyncIterator[bytes], checker: PointChecker, batcher: Batcher
) -> AsyncIterator[list[Entry]]:
    async for number, line in _lines(chunks):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            checker.problems.add(checker.loc_of(number), f"not JSON: {exc}", "json_invalid")
            batcher.received += 1
            continue
        batch = batcher.add(number, checker.from_object(number, obj))
        if batch is not None:
            yield batch
    if batcher.rows:
        yield batcher.rows


def _csv_value(raw: str) -> object:
    try:
        return float(raw)
    except ValueError:
        return raw  # reported by the checker as not a number


async def decode_csv(
    chunks: AsyncIterator[bytes], checker: PointChecker, batcher: Batcher
) -> AsyncIterator[list[Entry]]:
    """A header ``kpi,ts,value`` plus optional ``dim.<name>`` columns, then one point a line."""
    header: list[str] | None = None
    dimension_columns: list[tuple[int, str]] = []
    async for number, raw_line in _lines(chunks):
        line = raw_line.decode("utf-8", errors="replace").rstrip("\r")
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        if header is None:
            header = [name.strip() for name in fields]
            missing = [name for name in CSV_REQUIRED_COLUMNS if name not in header]
            if missing:
                checker.problems.add(
                    ["body", "line", number],
                    f"the CSV header must name {', '.join(CSV_REQUIRED_COLUMNS)} "
                    f"(missing: {', '.join(missing)}), plus optional dim.<name> columns",
                    "csv_header",
                )
                return
            dimension_columns = [
                (index, name.removeprefix(DIMENSION_COLUMN_PREFIX))
                for index, name in enumerate(header)
                if name.startswith(DIMENSION_COLUMN_PREFIX)
            ]
            columns = {name: index for index, name in enumerate(header)}
            kpi_at, ts_at, value_at = (columns[name] for name in CSV_REQUIRED_COLUMNS)
            continue
        if len(fields) != len(header):
            checker.problems.add(
                checker.loc_of(number),
                f"expected {len(header)} fields, found {len(fields)}",
                "csv_fields",
            )
            batcher.received += 1
            continue
        dimensions = {name: fields[index] for index, name in dimension_columns if fields[index]}
        row = checker.row(
            number, fields[kpi_at], fields[ts_at], _csv_value(fields[value_at]), dimensions
        )
        batch = batcher.add(number, row)
        if batch is not None:
            yield batch
    if header is None:
        checker.problems.add(
            ["body"], "the CSV body is empty; it needs a header line", "csv_header"
        )
    if batcher.rows:
        yield batcher.rows
