"""Checking submitted points and turning them into rows.

A row is the tuple COPY writes into ``points``:
``(org_id, kpi_id, ts, dims_hash, value, dimensions_json)``.

Two checkers agree on what is valid. :mod:`perfapi.points.fast` decodes a whole
batch with msgspec and stops at the first doubt; :class:`PointChecker` here
looks at every point and names each problem. Requests take the fast one and
fall back to this one only to explain a refusal.
"""

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from perfapi.errors import FieldError
from perfapi.kit.calendar import SPAN, instant_supported, parse_instant
from perfapi.kit.fields import magnitude_problem
from perfapi.kit.text import text_problem

PointRow = tuple[UUID, UUID, datetime, int, float, str]
LocOf = Callable[[int], list[str | int]]

MAX_DIMENSIONS = 16
MAX_DIMENSION_VALUE_LENGTH = 200
DIMENSION_NAME_BODY = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
# \Z, not $: Python's $ also matches before a trailing newline.
DIMENSION_NAME_PATTERN = rf"^{DIMENSION_NAME_BODY}\Z"
DIMENSION_NAME = re.compile(DIMENSION_NAME_PATTERN)
POINT_FIELDS = frozenset(("kpi", "ts", "value", "dimensions"))
NO_DIMENSIONS = (0, "{}")
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
        return NO_DIMENSIONS
    canonical = json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True), canonical


class DimensionKeys:
    """``dimensions_key`` with a memory: a request repeats few distinct label sets."""

    def __init__(self) -> None:
        self._known: dict[tuple[tuple[str, str], ...], tuple[int, str]] = {}

    def key_of(self, dimensions: dict[str, str]) -> tuple[int, str] | None:
        """The key, or None for labels that are not valid (see ``check_dimensions``)."""
        # Unsorted: the same labels in another order only add a cache entry, and
        # sorting on every point would cost more than it saves.
        items = tuple(dimensions.items())
        known = self._known.get(items)
        if known is None:
            if isinstance(check_dimensions(dimensions), str):
                return None
            known = self._known[items] = dimensions_key(dimensions)
        return known


def parse_ts(raw: object) -> datetime | str:
    """A timestamp with an offset, or the reason it is not one."""
    if not isinstance(raw, str):
        return "ts must be an RFC 3339 string such as 2026-01-31T09:00:00Z"
    ts = parse_instant(raw, as_points_do=True)
    if ts is None:
        return f"ts {raw[:40]!r} is not an RFC 3339 timestamp with offset (Z or +hh:mm)"
    if not instant_supported(ts):
        return f"ts must lie {SPAN}"
    return ts


def parse_value(raw: object) -> float | str:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return "value must be a number"
    try:
        value = float(raw)
    except OverflowError:
        value = math.inf
    problem = magnitude_problem(value)
    return "value " + problem if problem else value


def check_dimensions(raw: object) -> dict[str, str] | str:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return "dimensions must be an object of names to strings"
    if len(raw) > MAX_DIMENSIONS:
        return f"at most {MAX_DIMENSIONS} dimensions"
    for name, value in raw.items():
        if not DIMENSION_NAME.match(name):
            return f"dimension name {name[:70]!r} must match ^[A-Za-z0-9_][A-Za-z0-9_.-]{{0,63}}$"
        if not isinstance(value, str) or not 0 < len(value) <= MAX_DIMENSION_VALUE_LENGTH:
            return (
                f"dimension {name!r} must be a non-empty string of at most "
                f"{MAX_DIMENSION_VALUE_LENGTH} characters"
            )
        problem = text_problem(value)
        if problem:
            return f"dimension {name!r} {problem}"
    return raw


class PointChecker:
    """Checks points one by one, recording every problem with its location."""

    def __init__(
        self,
        org_id: UUID,
        kpi_ids: Mapping[str, UUID],
        dimension_keys: DimensionKeys,
        problems: Problems,
        loc_of: LocOf,
    ) -> None:
        self.org_id = org_id
        self.kpi_ids = kpi_ids
        self.dimension_keys = dimension_keys
        self.problems = problems
        self.loc_of = loc_of

    def row(
        self, position: int, kpi: object, ts: object, value: object, dimensions: object
    ) -> PointRow | None:
        """The point's row, or None with its problems recorded."""
        loc = self.loc_of(position)
        kpi_id = self.kpi_ids.get(kpi) if isinstance(kpi, str) else None
        if kpi_id is None:
            if kpi is None:
                self.problems.add([*loc, "kpi"], "kpi is required", "missing")
            else:
                message = f"unknown KPI key {str(kpi)[:70]!r}"
                self.problems.add([*loc, "kpi"], message, "unknown_kpi")
        checked_ts = parse_ts(ts)
        checked_value = parse_value(value)
        checked_dimensions = check_dimensions(dimensions)
        for name, reason, type_ in (
            ("ts", checked_ts, "invalid_ts"),
            ("value", checked_value, "invalid_value"),
            ("dimensions", checked_dimensions, "invalid_dimensions"),
        ):
            if isinstance(reason, str):
                self.problems.add([*loc, name], reason, type_)
        if (
            kpi_id is None
            or isinstance(checked_ts, str)
            or isinstance(checked_value, str)
            or isinstance(checked_dimensions, str)
        ):
            return None
        key = self.dimension_keys.key_of(checked_dimensions) if checked_dimensions else None
        dims_hash, dims_json = key or NO_DIMENSIONS
        return self.org_id, kpi_id, checked_ts, dims_hash, checked_value, dims_json

    def from_object(self, position: int, obj: Any) -> PointRow | None:
        if not isinstance(obj, dict):
            self.problems.add(
                self.loc_of(position), "a point must be a JSON object", "invalid_point"
            )
            return None
        unknown = obj.keys() - POINT_FIELDS
        if unknown:
            self.problems.add(
                self.loc_of(position),
                f"unknown field(s): {', '.join(sorted(unknown))}",
                "extra_forbidden",
            )
            return None
        return self.row(
            position, obj.get("kpi"), obj.get("ts"), obj.get("value"), obj.get("dimensions")
        )
