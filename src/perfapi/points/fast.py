"""The fast way in: msgspec decodes and validates a whole batch in C.

It accepts only what :class:`~perfapi.points.records.PointChecker` accepts, and
gives up (returns None) at the first doubt: any invalid point, an unknown KPI
key. The caller then lets the slow checker find and name every problem.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from perfapi.kit.calendar import FIRST_DAY, LAST_DAY
from perfapi.points.records import NO_DIMENSIONS, DimensionKeys, PointRow

_LARGEST_FLOAT = 1.7976931348623157e308
_FIRST_YEAR, _LAST_YEAR = FIRST_DAY.year, LAST_DAY.year


class FastPoint(msgspec.Struct, forbid_unknown_fields=True):
    kpi: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    value: Annotated[float, msgspec.Meta(ge=-_LARGEST_FLOAT, le=_LARGEST_FLOAT)]
    # Labels are checked once per distinct set, by DimensionKeys, not per point.
    dimensions: dict[str, str] | None = None


class FastBody(msgspec.Struct, forbid_unknown_fields=True):
    points: list[FastPoint]


_body_decoder = msgspec.json.Decoder(FastBody)
_point_decoder = msgspec.json.Decoder(FastPoint)


def decode_body(body: bytes) -> list[FastPoint] | None:
    try:
        return _body_decoder.decode(body).points
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def decode_lines(lines: bytes) -> list[FastPoint] | None:
    """NDJSON lines, blank ones already removed."""
    try:
        return _point_decoder.decode_lines(lines)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def rows_of(
    points: list[FastPoint],
    org_id: UUID,
    kpi_ids: Mapping[str, UUID],
    dimension_keys: DimensionKeys,
) -> list[PointRow] | None:
    """The rows of decoded points, or None when a KPI key is unknown."""
    rows: list[PointRow] = []
    append = rows.append
    kpi_of = kpi_ids.get
    key_of = dimension_keys.key_of
    for point in points:
        kpi_id = kpi_of(point.kpi)
        key = key_of(point.dimensions) if point.dimensions else NO_DIMENSIONS
        # Strictly inside the supported years whatever the offset; the edge years
        # go to the slow checker, which compares the instant itself.
        if kpi_id is None or key is None or not _FIRST_YEAR < point.ts.year < _LAST_YEAR:
            return None
        append((org_id, kpi_id, point.ts, key[0], point.value, key[1]))
    return rows
