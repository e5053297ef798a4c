"""Turning one submitted point into a row, or into the reasons it cannot be one.

Pure functions on plain values: the hot path of ingestion, so no pydantic model
per point, just the checks. A row is the tuple written by COPY:
``(kpi_id, ts, dims_hash, value, dimensions_json)``.
"""

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from perfapi.errors import FieldError

PointRow = tuple[UUID, datetime, int, float, str]

MAX_DIMENSIONS = 16
MAX_DIMENSION_VALUE_LENGTH = 200
DIMENSION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
POINT_FIELDS = frozenset(("kpi", "ts", "value", "dimensions"))
NO_DIMENSIONS = "{}"
MAX_LISTED_PROBLEMS = 100


@dataclass
class Problems:
    """Every problem of a request counted; the first hundred listed."""

    listed: list[FieldError] = field(default_factory=list)
    total: int = 0

    def add(self, loc: list[str | int], message: str, type_: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(FieldError(loc=loc, message=message, type=type_))

    def __bool__(self) -> bool:
        return self.total > 0


def dimensions_key(dimensions: Mapping[str, str]) -> tuple[int, str]:
    """The canonical JSON of the dimensions and its signed 64-bit hash (0 for none)."""
    if not dimensions:
        return 0, NO_DIMENSIONS
    canonical = orjson.dumps(dict(sorted(dimensions.items()))).decode()
    digest = hashlib.blake2b(canonical.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True), canonical


def parse_ts(raw: object) -> datetime | str:
    """A timestamp with an offset, or the reason it is not one."""
    if not isinstance(raw, str):
        return "ts must be an RFC 3339 string such as 2026-01-31T09:00:00Z"
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        return f"ts {raw[:40]!r} is not an RFC 3339 timestamp"
    if ts.tzinfo is None:
        return "ts needs an offset (Z or +hh:mm)"
    return ts


def parse_value(raw: object) -> float | str:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return "value must be a number"
    value = float(raw)
    if not math.isfinite(value):
        return "value must be a finite number"
    return value


def check_dimensions(raw: object) -> dict[str, str] | str:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return "dimensions must be an object of names to strings"
    if len(raw) > MAX_DIMENSIONS:
        return f"at most {MAX_DIMENSIONS} dimensions"
    for name, value in raw.items():
        if not DIMENSION_NAME.fullmatch(name):
            return f"dimension name {name[:70]!r} must match {DIMENSION_NAME.pattern}"
        if not isinstance(value, str) or not 0 < len(value) <= MAX_DIMENSION_VALUE_LENGTH:
            return (
                f"dimension {name!r} must be a non-empty string of at most "
                f"{MAX_DIMENSION_VALUE_LENGTH} characters"
            )
    return raw


# Sort key of a point: (rank of its KPI id, ts, dims_hash). Ranks follow UUID
# order, so sorting by this key orders rows exactly as PostgreSQL orders the
# primary key, and every writer takes row locks in that one order.
PointKey = tuple[int, datetime, int]
LocOf = Callable[[int], list[str | int]]


class PointChecker:
    """Validates the points of one request against its org's KPI keys.

    The common case (a valid point) takes a fast path of plain lookups and
    conversions; any failure re-checks the point slowly to name every problem.
    """

    def __init__(self, kpi_ids: Mapping[str, UUID], problems: Problems, loc_of: LocOf) -> None:
        ranked = sorted(kpi_ids.items(), key=lambda item: item[1])
        self.kpis = {key: (rank, kpi_id) for rank, (key, kpi_id) in enumerate(ranked)}
        self.problems = problems
        self.loc_of = loc_of
        self._dimensions: dict[tuple[tuple[str, str], ...], tuple[int, str]] = {
            (): (0, NO_DIMENSIONS)
        }

    def row(
        self, position: int, kpi: object, ts: object, value: object, dimensions: object
    ) -> tuple[PointKey, PointRow] | None:
        """The point's key and row, or None with its problems recorded."""
        try:
            rank, kpi_id = self.kpis[kpi]  # type: ignore[index]
            when = datetime.fromisoformat(ts)  # type: ignore[arg-type]
            if when.tzinfo is None or type(value) not in (float, int):
                raise ValueError
            number = float(value)  # type: ignore[arg-type]
            if not math.isfinite(number):
                raise ValueError
            dims_hash, dims_json = self._dimensions_of(dimensions)
        except (KeyError, TypeError, ValueError):
            self._report(self.loc_of(position), kpi, ts, value, dimensions)
            return None
        return (rank, when, dims_hash), (kpi_id, when, dims_hash, number, dims_json)

    def _dimensions_of(self, dimensions: object) -> tuple[int, str]:
        if dimensions is None:
            return 0, NO_DIMENSIONS
        if type(dimensions) is not dict:
            raise TypeError
        items = tuple(sorted(dimensions.items()))
        known = self._dimensions.get(items)
        if known is None:
            if isinstance(check_dimensions(dimensions), str):
                raise ValueError
            known = self._dimensions[items] = dimensions_key(dimensions)
        return known

    def _report(
        self, loc: list[str | int], kpi: object, ts: object, value: object, dimensions: object
    ) -> None:
        if not isinstance(kpi, str) or kpi not in self.kpis:
            if kpi is None:
                self.problems.add([*loc, "kpi"], "kpi is required", "missing")
            else:
                self.problems.add(
                    [*loc, "kpi"], f"unknown KPI key {str(kpi)[:70]!r}", "unknown_kpi"
                )
        for name, reason, type_ in (
            ("ts", parse_ts(ts), "invalid_ts"),
            ("value", parse_value(value), "invalid_value"),
            ("dimensions", check_dimensions(dimensions), "invalid_dimensions"),
        ):
            if isinstance(reason, str):
                self.problems.add([*loc, name], reason, type_)

    def from_object(self, position: int, obj: Any) -> tuple[PointKey, PointRow] | None:
        if type(obj) is not dict:
            self.problems.add(
                self.loc_of(position), "a point must be a JSON object", "invalid_point"
            )
            return None
        if not obj.keys() <= POINT_FIELDS:
            unknown = ", ".join(sorted(obj.keys() - POINT_FIELDS))
            self.problems.add(
                self.loc_of(position), f"unknown field(s): {unknown}", "extra_forbidden"
            )
            return None
        return self.row(
            position, obj.get("kpi"), obj.get("ts"), obj.get("value"), obj.get("dimensions")
        )
