"""The fast way in: msgspec decodes and validates a whole batch in C.

It accepts only what :class:`~perfapi.points.records.PointChecker` accepts, and
gives up (returns None) at the first doubt: any invalid point, an unknown KPI
key. The caller then lets the slow checker find and name every problem.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from perfapi.kit.calendar import FIRST_DAY, LAST_DAY
from perfapi.kit.fields import MAX_MAGNITUDE
from perfapi.points.records import NO_DIMENSIONS, DimensionKeys, PointRow

_FIRST_YEAR, _LAST_YEAR = FIRST_DAY.year, LAST_DAY.year


class FastPoint(msgspec.Struct, forbid_unknown_fields=True):
    kpi: str
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    value: Annotated[float, msgspec.Meta(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
    # Labels are checked once per distinct set, by DimensionKeys, not per point.
    dimensions: dict[str, str] | None = None


class FastBody(msgspec.Struct, forbid_unknown_fields=True):
    points: list[FastPoint]


# msgspec raises UnicodeDecodeError for a string that is not UTF-8.
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)
_body_decoder = msgspec.json.Decoder(FastBody)
_point_decoder = msgspec.json.Decoder(FastPoint)


def decode_body(body: bytes | bytearray) -> list[FastPoint] | None:
    try:
        return _body_decoder.decode(body).points
    except _REFUSED:
        return None


def decode_lines(lines: bytes) -> list[FastPoint] | None:
    """NDJSON lines, blank ones already removed."""
    try:
        return _point_decoder.decode_lines(lines)
    except _REFUSED:
        return None


class _RawBody(msgspec.Struct, forbid_unknown_fields=True):
    points: list[msgspec.Raw]


_raw_body_decoder = msgspec.json.Decoder(_RawBody)
_members_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_points_decoder = msgspec.json.Decoder(list[FastPoint])


def split_body(body: bytes | bytearray) -> tuple[list[msgspec.Raw], list[str]] | None:
    """The points of ``{"points": [...]}`` as raw JSON slices of the body (not copies),
    with the names of any other members; None when msgspec cannot read the body so.

    Each point's syntax is checked, not its content: that is left to
    :func:`decode_raw` and the slow checker, a batch at a time.
    """
    try:
        return _raw_body_decoder.decode(body).points, []
    except _REFUSED:
        pass
    try:
        members = _members_decoder.decode(body)
        points = _raw_list_decoder.decode(members.pop("points"))
    except (*_REFUSED, KeyError):
        return None
    return points, sorted(members)


def decode_raw(points: Sequence[msgspec.Raw]) -> list[FastPoint] | None:
    """Points split from a body by :func:`split_body`."""
    try:
        return _points_decoder.decode(b"[" + b",".join(points) + b"]")
    except _REFUSED:
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
