"""Field types of request bodies: strict JSON types, bounded numbers, non-blank text.

FastAPI validates parsed JSON in pydantic's lax Python mode, which would take
``true`` or ``"1.5"`` as a number and ``0`` as a timestamp. The types here accept
exactly what their JSON Schema says, so a generated client and the server agree:
numbers are JSON numbers, flags JSON booleans, and text is checked as sent (its
length before trimming) and declared with the same rule as a ``pattern``.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StrictBool
from pydantic_core import PydanticCustomError

MAX_MAGNITUDE = 1e15
"""Largest absolute value of a number perfapi aggregates or compares.

Sums, means and trends of up to billions of such values stay far inside a
double's range, so no read over accepted data can overflow.
"""

# Whitespace as both Python's str.isspace() and ECMAScript's \\s know it (the
# union: U+001C..U+001F and U+0085 for Python, U+FEFF for ECMAScript), so that
# the server's trimming and the document's pattern agree on what "blank" is.
WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WHITESPACE_CLASS = (
    r"\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_WHITESPACE_CLASS}][^\x00]*$"
"""A JSON Schema (ECMAScript) pattern: no NUL, and at least one non-whitespace character."""


def magnitude_problem(value: float) -> str | None:
    """Why a number cannot be stored as a measure, or None."""
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:  # NaN fails this too
        return "must be a finite number between -1e15 and 1e15"
    return None


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a JSON integer")
    return value


Number = Annotated[float, Strict()]
"""A JSON number (an integer is taken as a float); never a boolean or a string."""

Measure = Annotated[float, Strict(), Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
"""A number that reports aggregate or compare: finite, |x| <= 1e15."""

JsonInteger = BeforeValidator(_json_integer)
"""Refuses booleans and strings where an integer belongs (``2.0`` passes, as JSON Schema's
integer allows). Put bounds before it, ``Annotated[int, Field(ge=1), JsonInteger]``, so
the document states them as ``minimum``/``maximum``."""

Integer = Annotated[int, JsonInteger]
"""A JSON integer without bounds."""

Flag = StrictBool


def _trimmed_not_blank(value: str) -> str:
    trimmed = value.strip(WHITESPACE)
    if not trimmed:
        raise PydanticCustomError("string_blank", "must not be blank")
    return trimmed


Trimmed = AfterValidator(_trimmed_not_blank)
"""Trims leading and trailing whitespace; 422 when nothing is left."""

NOT_BLANK: dict[str, Any] = {"pattern": NOT_BLANK_PATTERN}
"""``json_schema_extra`` of a field validated by :data:`Trimmed`.

Use as ``Annotated[str, Field(min_length=1, max_length=N, json_schema_extra=NOT_BLANK),
Trimmed]``: the length is checked as sent, as the document states it.
"""
