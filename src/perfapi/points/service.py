"""Ingestion: decode, validate, write, all or nothing."""

from collections.abc import AsyncIterator, Callable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.errors import UnsupportedMediaTypeError, ValidationFailedError
from perfapi.points import repository
from perfapi.points.decoding import (
    Batcher,
    Entry,
    decode_csv,
    decode_json,
    decode_ndjson,
)
from perfapi.points.records import PointChecker, Problems
from perfapi.points.schemas import IngestResult
from perfapi.points.writer import PointWriter

JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
MEDIA_TYPES = (JSON, NDJSON, CSV)


def media_type_of(content_type: str | None) -> str:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            "Send points as application/json, application/x-ndjson or text/csv."
        )
    return media_type


def _loc_of(media_type: str) -> Callable[[int], list[str | int]]:
    if media_type == JSON:
        return lambda position: ["body", "points", position]
    return lambda position: ["body", "line", position]


async def _batches(
    media_type: str, chunks: AsyncIterator[bytes], checker: PointChecker, batcher: Batcher
) -> AsyncIterator[list[Entry]]:
    if media_type == JSON:
        body = b"".join([chunk async for chunk in chunks])
        for batch in decode_json(body, checker, batcher):
            yield batch
    elif media_type == NDJSON:
        async for batch in decode_ndjson(chunks, checker, batcher):
            yield batch
    else:
        async for batch in decode_csv(chunks, checker, batcher):
            yield batch


async def ingest(
    session: AsyncSession, org_id: UUID, media_type: str, chunks: AsyncIterator[bytes]
) -> IngestResult:
    """Store every point of the request, or none of them (422 listing what is wrong)."""
    problems = Problems()
    loc_of = _loc_of(media_type)
    checker = PointChecker(await repository.kpi_ids_by_key(session, org_id), problems, loc_of)
    batcher = Batcher()
    writer = PointWriter(session, org_id, loc_of)
    async for batch in _batches(media_type, chunks, checker, batcher):
        await writer.add(batch, problems)
    counts = await writer.finish(problems)
    if counts is None:
        raise ValidationFailedError(
            problems.listed,
            detail=f"{problems.total} problem(s) in the points; nothing was stored.",
            total=problems.total,
        )
    return IngestResult(
        received=batcher.received,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=batcher.received - counts.inserted - counts.updated,
    )
