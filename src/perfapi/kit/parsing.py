"""Parsers shared by query parameters and cursors."""

from datetime import date, datetime


def parse_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp that carries its offset; naive ones are rejected."""
    if not isinstance(value, str):
        raise ValueError("a timestamp must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a timestamp needs an offset, e.g. 2026-01-31T00:00:00Z")
    return parsed


def parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("a date must be a string")
    return date.fromisoformat(value)
