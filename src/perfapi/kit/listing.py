"""One list endpoint's behaviour, shared by every list: a page of JSON, or every row
exported as CSV or NDJSON, from the same query."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.exports import (
    ExportFormat,
    ExportFormatParam,
    ItemsOf,
    PageFetcher,
    export_response,
)
from perfapi.kit.pagination import Page, PageParams, Pagination, page_response
from perfapi.kit.parsing import parse_timestamp

RowT = TypeVar("RowT")

# Most lists are ordered by (created_at, id).
CREATED_CURSOR: tuple[Callable[[Any], Any], ...] = (parse_timestamp, UUID)


@dataclass(frozen=True)
class Listing(Generic[RowT]):
    """What a list reads (``fetch_page``) and how its rows become items."""

    fetch_page: PageFetcher[RowT]
    item_model: type[BaseModel]
    filename: str
    to_item: Callable[[RowT], BaseModel] | None = None
    items_of: ItemsOf[RowT] | None = None
    cursor: tuple[Callable[[Any], Any], ...] = CREATED_CURSOR

    async def items(self, session: AsyncSession, rows: Sequence[RowT]) -> Sequence[BaseModel]:
        if self.items_of is not None:
            return await self.items_of(session, rows)
        assert self.to_item is not None
        return [self.to_item(row) for row in rows]


@dataclass(frozen=True)
class ListRequest:
    pagination: PageParams
    export_format: ExportFormat
    request: Request
    response: Response

    async def respond(self, session: AsyncSession, listing: Listing[RowT]) -> Page[Any] | Response:
        if self.export_format is not ExportFormat.JSON:
            return await export_response(
                self.request,
                self.export_format,
                fetch_page=listing.fetch_page,
                item_model=listing.item_model,
                filename=listing.filename,
                items_of=listing.items,
            )
        rows, next_key = await listing.fetch_page(
            session, self.pagination.after(*listing.cursor), self.pagination.limit
        )
        items = list(await listing.items(session, rows))
        return page_response(self.request, self.response, items, next_key)


def _list_request(
    pagination: Pagination, export_format: ExportFormatParam, request: Request, response: Response
) -> ListRequest:
    return ListRequest(pagination, export_format, request, response)


ListParams = Annotated[ListRequest, Depends(_list_request)]
