"""Ingestion: decode, check, write, all or nothing."""

from collections.abc import AsyncIterator, Callable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.errors import UnsupportedMediaTypeError, ValidationFailedError
from perfapi.events import service as events
from perfapi.events.types import EventType
from perfapi.points import fast, repository
from perfapi.points.admission import Ticket
from perfapi.points.decoding import Batch, Decoder
from perfapi.points.records import DimensionKeys, PointChecker, Problems
from perfapi.points.schemas import IngestResult
from perfapi.points.writer import KpiDeletedError, PointWriter

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


async def _json_batches(
    chunks: AsyncIterator[bytes], decoder: Decoder, ticket: Ticket | None
) -> AsyncIterator[Batch]:
    """A small body decoded whole; a large one (admitted with a ticket) in parts."""
    body = bytearray()  # grows in place: no list of chunks beside the joined body
    async for chunk in chunks:
        body += chunk
    if ticket is None or len(body) <= ticket.large_above:
        for batch in decoder.json(body):
            yield batch
        return
    split = fast.split_body(body)
    if split is not None:
        for batch in decoder.json_parts(*split):
            yield batch
        return
    async with ticket.alone():
        for batch in decoder.json_checked(body):
            yield batch


async def _batches(
    media_type: str, chunks: AsyncIterator[bytes], decoder: Decoder, ticket: Ticket | None
) -> AsyncIterator[Batch]:
    if media_type == JSON:
        async for batch in _json_batches(chunks, decoder, ticket):
            yield batch
    elif media_type == NDJSON:
        async for batch in decoder.ndjson(chunks):
            yield batch
    else:
        async for batch in decoder.csv(chunks):
            yield batch


async def ingest(
    session: AsyncSession,
    org_id: UUID,
    media_type: str,
    chunks: AsyncIterator[bytes],
    ticket: Ticket | None = None,
    *,
    audited: bool = True,
) -> IngestResult:
    """Store every point of the request, or none of them (422 listing what is wrong).

    ``ticket``: the slot a large JSON body was admitted with (see :mod:`.admission`).
    ``audited``: record the request in the audit log; False only for webhook
    deliveries, which their source's delivery log records (nobody authenticated them).
    """
    problems = Problems()
    loc_of = _loc_of(media_type)
    org_id, kpi_ids = await repository.kpi_ids_by_key(session, org_id)
    dimension_keys = DimensionKeys()
    checker = PointChecker(org_id, kpi_ids, dimension_keys, problems, loc_of)
    decoder = Decoder(org_id, kpi_ids, checker, dimension_keys)
    writer = PointWriter(session, loc_of)
    async for batch in _batches(media_type, chunks, decoder, ticket):
        await writer.add(batch)
    try:
        counts = await writer.finish(problems)
    except KpiDeletedError:
        problems.add(
            ["body"], "a KPI named here was deleted while the points were sent", "unknown_kpi"
        )
        counts = None
    if counts is None:
        raise ValidationFailedError(
            problems.listed,
            detail=f"{problems.total} problem(s) in the points; nothing was stored.",
            total=problems.total,
        )
    result = IngestResult(
        received=decoder.received,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=decoder.received - counts.inserted - counts.updated,
    )
    keys = sorted(key for key, kpi_id in kpi_ids.items() if kpi_id in counts.kpi_ids)
    if counts.kpi_ids:
        await events.record(
            session, org_id, EventType.POINTS_INGESTED, {**result.model_dump(), "kpis": keys}
        )
    if audited:
        # One entry per request, however many points: counts, and the KPIs written to.
        counted = {name: (None, count) for name, count in result.model_dump().items()}
        await audit.record(
            session, org_id, Action.POINTS_INGESTED, None, {**counted, "kpis": (None, keys)}
        )
    return result
