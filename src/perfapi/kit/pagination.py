"""Keyset pagination: ``?limit=&cursor=``, ``{"items", "next_cursor"}`` and a ``Link`` header.

A cursor is the opaque, URL-safe encoding of the sort key of the last item
served; the next page starts strictly after it, so inserts and deletes between
requests never repeat or skip an item.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from perfapi.errors import ValidationFailedError
from perfapi.kit.parsing import parse_timestamp

ItemT = TypeVar("ItemT")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `?cursor=` for the next page; null on the last page."
    )

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``ApiKeyPage`` rather than ``Page_ApiKey_`` in the OpenAPI document."""
        return f"{params[0].__name__}Page"


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None

    def after(self, *parsers: Callable[[Any], Any]) -> list[Any] | None:
        """The sort key to continue after, each part parsed back to its type, or None."""
        if self.cursor is None:
            return None
        raw = decode_cursor(self.cursor)
        if len(raw) != len(parsers):
            raise _invalid_cursor()
        try:
            return [parse(part) for parse, part in zip(parsers, raw, strict=True)]
        except (TypeError, ValueError):
            raise _invalid_cursor() from None

    def after_created(self) -> list[Any] | None:
        """The sort key of lists ordered by creation (see ``created_sort_key``)."""
        return self.after(parse_timestamp, UUID)


def _page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (default 50, max 500).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    if cursor is not None:
        decode_cursor(cursor)  # reject garbage before any query runs
    return PageParams(limit=limit, cursor=cursor)


Pagination = Annotated[PageParams, Depends(_page_params)]


def _plain(value: object) -> object:
    """Dates and timestamps as ISO strings, ids as strings: what the parsers read back."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def encode_cursor(sort_key: list[Any]) -> str:
    raw = json.dumps(sort_key, separators=(",", ":"), default=_plain).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if not isinstance(value, list):
        raise _invalid_cursor()
    return value


def _invalid_cursor() -> ValidationFailedError:
    return ValidationFailedError.single(
        ["query", "cursor"], "The cursor is not one this API issued.", "invalid_cursor"
    )


def page_response(
    request: Request,
    response: Response,
    items: list[ItemT],
    next_sort_key: list[Any] | None,
) -> Page[ItemT]:
    """Build the page body and set ``Link: <...>; rel="next"`` when there is more."""
    next_cursor = None if next_sort_key is None else encode_cursor(next_sort_key)
    if next_cursor is not None:
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return Page[ItemT](items=items, next_cursor=next_cursor)
