"""Turning a webhook payload into points with JMESPath mappings.

A mapping names expressions: ``for_each`` (optional) yields the list of items,
and ``kpi``, ``ts``, ``value`` and each of ``dimensions`` are evaluated on every
item (on the whole payload without ``for_each``). Literal strings are raw
literals: ``'sales.new_arr'``. ``ts`` may be an RFC 3339 string or a Unix time
in seconds or, above 10^11, milliseconds.
"""

import contextlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from perfapi.kit.fields import magnitude_problem

MILLISECONDS_FROM = 10**11  # as seconds, the year 5138: larger numbers are milliseconds


class MappingError(Exception):
    """Why a payload could not be turned into points (stored with the delivery)."""


def compile_expression(expression: str) -> ParsedResult:
    """Compile, or raise ValueError naming the expression and the reason."""
    try:
        return _compiled(expression)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression {expression!r}: {exc}") from None


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def _search(expression: str, data: Any, where: str) -> Any:
    try:
        return _compiled(expression).search(data)
    except JMESPathError as exc:
        raise MappingError(f"{where}: {expression!r} failed: {exc}") from None


def _finite(raw: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (a 400-digit integer too)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        number = float(raw)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _timestamp(raw: Any, where: str) -> str:
    if isinstance(raw, str):
        return raw
    number = _finite(raw)
    if number is not None:
        seconds = number / 1000 if abs(number) >= MILLISECONDS_FROM else number
        with contextlib.suppress(OverflowError, ValueError, OSError):
            return datetime.fromtimestamp(seconds, UTC).isoformat()
    raise MappingError(f"{where}: ts must be an RFC 3339 string or a Unix time, got {raw!r:.80}")


def _value(raw: Any, where: str) -> float:
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            raw = float(raw)
    number = _finite(raw)
    if number is None or magnitude_problem(number):
        raise MappingError(
            f"{where}: value must be a finite number between -1e15 and 1e15, got {raw!r:.80}"
        )
    return number


def _label(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return raw if isinstance(raw, str) else str(raw)


def points_of(payload: Any, mappings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The points of a payload, as ``POST /v1/points`` objects; MappingError on any doubt."""
    points = []
    for number, mapping in enumerate(mappings):
        items: Any = [payload]
        if mapping.get("for_each"):
            items = _search(mapping["for_each"], payload, f"mapping {number}")
            if not isinstance(items, list):
                raise MappingError(f"mapping {number}: for_each did not yield a list")
        for index, item in enumerate(items):
            where = f"mapping {number}, item {index}"
            kpi = _search(mapping["kpi"], item, where)
            if not isinstance(kpi, str):
                raise MappingError(f"{where}: kpi must be a KPI key, got {kpi!r}")
            dimensions = {}
            for name, expression in (mapping.get("dimensions") or {}).items():
                label = _label(_search(expression, item, where))
                if label:  # null and "" leave the dimension out
                    dimensions[name] = label
            points.append(
                {
                    "kpi": kpi,
                    "ts": _timestamp(_search(mapping["ts"], item, where), where),
                    "value": _value(_search(mapping["value"], item, where), where),
                    "dimensions": dimensions,
                }
            )
    return points
