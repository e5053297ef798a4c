"""Entity tags: what an answer is a function of, hashed; and ``If-None-Match`` matching."""

import hashlib
from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from perfapi.conditional.repository import DataVersion


class Clock(Enum):
    """How an answer depends on the clock when the request names no ``as_of``."""

    NONE = "none"
    """Not at all: a function of stored data and the request."""
    DATED_DATA = "dated_data"
    """Only through which dated data (points, check-ins) is at or before now, and the
    calendar (a default window is the year of today): the tag holds while nothing
    stored is dated after now, and names the day."""
    CONTINUOUS = "continuous"
    """With every instant (the elapsed part of a target period) or at bucket boundaries
    of the request's own time zone (which bucket is complete): no tag."""


def entity_tag(
    parts: Sequence[str], data: DataVersion, clock: Clock, now: datetime, as_of_given: bool
) -> str | None:
    """The tag of an answer to the request ``parts`` describe, or None if it has none.

    A tag of an answer "as of now" is weak: its body states a different ``as_of``
    each time, while what it says of the data is the same.
    """
    implicit_now = clock is not Clock.NONE and not as_of_given
    day = ""
    if implicit_now:
        if clock is Clock.CONTINUOUS:
            return None
        if data.dated_until is not None and data.dated_until > now:
            return None
        day = now.date().isoformat()
    material = "\x1f".join([*parts, str(data.version), day])
    digest = hashlib.blake2b(material.encode(), digest_size=16).hexdigest()
    return f'W/"{digest}"' if implicit_now else f'"{digest}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def matches(if_none_match: str, tag: str) -> bool:
    """Whether the header names ``tag``, by the weak comparison GET uses (RFC 9110 13.1.2).

    ``*`` is not honoured: it would answer 304 before the request's parameters were
    checked, and a read answers 200 instead, which is always allowed.
    """
    wanted = _opaque(tag)
    return any(_opaque(candidate) == wanted for candidate in if_none_match.split(","))
