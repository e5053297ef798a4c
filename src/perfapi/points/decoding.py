"""Request bodies to batches of rows: NDJSON and CSV as streams, JSON from memory.

A small JSON body is decoded whole; a large one is split into raw points and
decoded a batch at a time (see :mod:`perfapi.points.admission`). A batch holds
up to 10,000 points with their positions: the index in a JSON body, the line
number in NDJSON and CSV; positions name points in errors.
JSON and NDJSON batches go through msgspec first (:mod:`perfapi.points.fast`);
a batch it refuses, and every CSV batch, is checked point by point, collecting
problems rather than raising them so one 422 can list them all.
"""

import csv
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

from perfapi.errors import BadRequestError
from perfapi.points import fast
from perfapi.points.records import DimensionKeys, PointChecker, PointRow

BATCH_SIZE = 10_000
CSV_REQUIRED_COLUMNS = ("kpi", "ts", "value")
DIMENSION_COLUMN_PREFIX = "dim."


class MalformedJsonError(BadRequestError):
    slug = "malformed-json"


@dataclass
class Batch:
    positions: Sequence[int]
    rows: list[PointRow]


class Decoder:
    """Turns one request's body into batches, counting every point received."""

    def __init__(
        self,
        org_id: UUID,
        kpi_ids: dict[str, UUID],
        checker: PointChecker,
        dimension_keys: DimensionKeys,
    ) -> None:
        self.org_id = org_id
        self.kpi_ids = kpi_ids
        self.checker = checker
        self.dimension_keys = dimension_keys
        self.received = 0

    def _fast_rows(self, points: list[fast.FastPoint] | None) -> list[PointRow] | None:
        if points is None:
            return None
        return fast.rows_of(points, self.org_id, self.kpi_ids, self.dimension_keys)

    def json(self, body: bytes | bytearray) -> Iterator[Batch]:
        """``{"points": [...]}``, parsed whole: for bodies up to a few megabytes."""
        rows = self._fast_rows(fast.decode_body(body))
        if rows is not None:
            self.received += len(rows)
            yield from _chunks(range(len(rows)), rows)
            return
        yield from self.json_checked(body)

    def json_parts(self, points: list[msgspec.Raw], extra: list[str]) -> Iterator[Batch]:
        """A large body split by :func:`fast.split_body`, decoded a batch at a time.

        The same checks as :meth:`json`, batch by batch as for NDJSON: a batch
        msgspec refuses is checked point by point, and repeats across batches are
        found once staged. Only one batch of decoded points is alive at a time.
        """
        if extra:
            self._extra_members(extra)
        self.received += len(points)
        for start in range(0, len(points), BATCH_SIZE):
            yield self._json_batch(start, points[start : start + BATCH_SIZE])

    def _json_batch(self, start: int, points: list[msgspec.Raw]) -> Batch:
        rows = self._fast_rows(fast.decode_raw(points))
        if rows is not None:
            return Batch(range(start, start + len(rows)), rows)
        kept: list[tuple[int, PointRow]] = []
        for index, raw in enumerate(points, start):
            try:
                obj = json.loads(bytes(raw))
            except (ValueError, RecursionError) as exc:
                # msgspec only skimmed the point; the standard library's parser
                # refuses it (e.g. bytes that are not UTF-8), so it refuses the body.
                raise MalformedJsonError(
                    f"The body is not valid JSON: point {index}: {exc}."
                ) from None
            row = self.checker.from_object(index, obj)
            if row is not None:
                kept.append((index, row))
        self._report_repeats(kept)
        return Batch([index for index, _ in kept], [row for _, row in kept])

    def _extra_members(self, extra: Iterable[str]) -> None:
        self.checker.problems.add(
            ["body"], f"unknown field(s): {', '.join(sorted(extra))}", "extra_forbidden"
        )

    def json_checked(self, body: bytes | bytearray) -> Iterator[Batch]:
        """The whole body parsed by the standard library, every point checked."""
        try:
            # The standard library's parser, not a faster one: it also reads NaN,
            # Infinity and out-of-range numbers, so they are reported at their point.
            document: Any = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedJsonError(f"The body is not valid JSON: {exc}.") from None
        points = document.get("points") if isinstance(document, dict) else None
        if not isinstance(points, list):
            self.checker.problems.add(["body", "points"], 'expected {"points": [...]}', "missing")
            return
        extra = document.keys() - {"points"}
        if extra:
            self._extra_members(extra)
        self.received += len(points)
        checked = [
            (index, self.checker.from_object(index, obj)) for index, obj in enumerate(points)
        ]
        kept = [(index, row) for index, row in checked if row is not None]
        self._report_repeats(kept)
        yield from _chunks([index for index, _ in kept], [row for _, row in kept])

    async def ndjson(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[Batch]:
        numbers: list[int] = []
        lines: list[bytes] = []
        async for number, line in _lines(chunks):
            if line.strip():
                numbers.append(number)
                lines.append(line)
                if len(lines) == BATCH_SIZE:
                    yield self._ndjson_batch(numbers, lines)
                    numbers, lines = [], []
        if lines:
            yield self._ndjson_batch(numbers, lines)

    def _ndjson_batch(self, numbers: list[int], lines: list[bytes]) -> Batch:
        self.received += len(lines)
        rows = self._fast_rows(fast.decode_lines(b"\n".join(lines)))
        if rows is not None:
            return Batch(numbers, rows)
        kept: list[tuple[int, PointRow]] = []
        for number, line in zip(numbers, lines, strict=True):
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:
                self.checker.problems.add(
                    self.checker.loc_of(number), f"not JSON: {exc}", "json_invalid"
                )
                continue
            row = self.checker.from_object(number, obj)
            if row is not None:
                kept.append((number, row))
        self._report_repeats(kept)
        return Batch([number for number, _ in kept], [row for _, row in kept])

    def _report_repeats(self, kept: list[tuple[int, PointRow]]) -> None:
        """Repeats with another value, within a batch checked point by point.

        Repeats in batches msgspec accepted are found once staged, by SQL.
        """
        first_seen: dict[tuple[Any, ...], tuple[int, float]] = {}
        for position, row in kept:
            first = first_seen.setdefault((row[1], row[2], row[3]), (position, row[4]))
            if first[0] != position and first[1] != row[4]:
                self.checker.problems.add(
                    self.checker.loc_of(position),
                    f"the same point (kpi, ts, dimensions) as {first[0]} with another value",
                    "duplicate_point",
                )

    async def csv(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[Batch]:
        """A header ``kpi,ts,value`` plus optional ``dim.<name>`` columns, one point a line."""
        problems = self.checker.problems
        header: list[str] | None = None
        columns: tuple[int, int, int] = (0, 0, 0)
        dimension_columns: list[tuple[int, str]] = []
        numbers: list[int] = []
        rows: list[PointRow] = []
        async for number, raw_line in _lines(chunks):
            line = raw_line.decode("utf-8", errors="replace").rstrip("\r")
            if not line.strip():
                continue
            try:
                fields = next(csv.reader([line]))
            except csv.Error as exc:  # a lone carriage return inside a field, say
                problems.add(["body", "line", number], f"not a CSV line: {exc}", "csv_invalid")
                if header is None:
                    return
                self.received += 1
                continue
            if header is None:
                header = [name.strip() for name in fields]
                missing = [name for name in CSV_REQUIRED_COLUMNS if name not in header]
                if missing:
                    problems.add(
                        ["body", "line", number],
                        f"the CSV header must name {', '.join(CSV_REQUIRED_COLUMNS)} "
                        f"(missing: {', '.join(missing)}), plus optional dim.<name> columns",
                        "csv_header",
                    )
                    return
                kpi_at, ts_at, value_at = (header.index(name) for name in CSV_REQUIRED_COLUMNS)
                columns = (kpi_at, ts_at, value_at)
                dimension_columns = [
                    (index, name.removeprefix(DIMENSION_COLUMN_PREFIX))
                    for index, name in enumerate(header)
                    if name.startswith(DIMENSION_COLUMN_PREFIX)
                ]
                continue
            self.received += 1
            if len(fields) != len(header):
                problems.add(
                    self.checker.loc_of(number),
                    f"expected {len(header)} fields, found {len(fields)}",
                    "csv_fields",
                )
                continue
            kpi_at, ts_at, value_at = columns
            dimensions = {name: fields[index] for index, name in dimension_columns if fields[index]}
            row = self.checker.row(
                number, fields[kpi_at], fields[ts_at], _csv_value(fields[value_at]), dimensions
            )
            if row is not None:
                numbers.append(number)
                rows.append(row)
                if len(rows) == BATCH_SIZE:
                    self._report_repeats(list(zip(numbers, rows, strict=True)))
                    yield Batch(numbers, rows)
                    numbers, rows = [], []
        if header is None:
            problems.add(["body"], "the CSV body is empty; it needs a header line", "csv_header")
        if rows:
            self._report_repeats(list(zip(numbers, rows, strict=True)))
            yield Batch(numbers, rows)


def _chunks(positions: Sequence[int], rows: list[PointRow]) -> Iterator[Batch]:
    for start in range(0, len(rows), BATCH_SIZE):
        yield Batch(positions[start : start + BATCH_SIZE], rows[start : start + BATCH_SIZE])


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


def _csv_value(raw: str) -> object:
    """A decimal number as a float; anything else is left for the checker to report.

    Stricter than float(): no digit separators (1_000), no spaces inside. NaN and
    infinities are converted, so they are reported as not finite.
    """
    text = raw.strip()
    if _DECIMAL.fullmatch(text) or text.lower().lstrip("+-") in _NON_FINITE:
        return float(text)
    return raw


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = frozenset(("nan", "inf", "infinity"))
