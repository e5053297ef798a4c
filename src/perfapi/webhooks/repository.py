from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit.conflicts import flush_or_conflict
from perfapi.kit.repository import created_sort_key, keyset_page
from perfapi.models import WebhookDelivery, WebhookSource

NAME_TAKEN_CONSTRAINT = "webhook_sources_org_id_name_key"


async def get(session: AsyncSession, org_id: UUID, source_id: UUID) -> WebhookSource | None:
    source: WebhookSource | None = await session.scalar(
        select(WebhookSource).where(WebhookSource.org_id == org_id, WebhookSource.id == source_id)
    )
    return source


async def find_for_receiver(session: AsyncSession, source_id: UUID) -> WebhookSource | None:
    """By id alone: the receiver learns the org from the source."""
    source: WebhookSource | None = await session.scalar(
        select(WebhookSource).where(WebhookSource.id == source_id)
    )
    return source


async def save(session: AsyncSession, source: WebhookSource) -> WebhookSource:
    session.add(source)
    await flush_or_conflict(
        session, {NAME_TAKEN_CONSTRAINT: f"A webhook source named {source.name!r} exists."}
    )
    await session.refresh(source)
    return source


async def remove(session: AsyncSession, source: WebhookSource) -> None:
    await session.delete(source)
    await session.flush()


async def list_page(
    session: AsyncSession, org_id: UUID, *, after: Sequence[Any] | None, limit: int
) -> tuple[list[WebhookSource], list[Any] | None]:
    return await keyset_page(
        session,
        select(WebhookSource).where(WebhookSource.org_id == org_id),
        order_by=[WebhookSource.created_at, WebhookSource.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


async def claim_delivery(
    session: AsyncSession, org_id: UUID, source_id: UUID, delivery_key: str, payload: bytes
) -> tuple[WebhookDelivery, bool]:
    """The delivery with this key: newly stored (True), or the one received before.

    A concurrent twin waits on the unique key until the first commits, then gets it.
    """
    inserted = await session.scalar(
        insert(WebhookDelivery)
        .values(
            org_id=org_id,
            source_id=source_id,
            delivery_key=delivery_key,
            received_at=func.now(),
            processed_at=func.now(),
            status="failed",
            error="not processed yet",
            points_written=0,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["org_id", "source_id", "delivery_key"])
        .returning(WebhookDelivery.id)
    )
    delivery: WebhookDelivery | None = await session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.org_id == org_id,
            WebhookDelivery.source_id == source_id,
            WebhookDelivery.delivery_key == delivery_key,
        )
        .execution_options(populate_existing=True)
    )
    assert delivery is not None
    return delivery, inserted is not None


async def get_delivery(
    session: AsyncSession, org_id: UUID, source_id: UUID, delivery_id: UUID
) -> WebhookDelivery | None:
    delivery: WebhookDelivery | None = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.org_id == org_id,
            WebhookDelivery.source_id == source_id,
            WebhookDelivery.id == delivery_id,
        )
    )
    return delivery


async def record_outcome(
    session: AsyncSession, delivery: WebhookDelivery, error: str | None, points_written: int
) -> WebhookDelivery:
    delivery.status = "failed" if error else "processed"
    delivery.error = error
    delivery.points_written = points_written
    processed_at: datetime | None = await session.scalar(select(func.clock_timestamp()))
    assert processed_at is not None
    delivery.processed_at = processed_at
    await session.flush()
    return delivery


async def list_deliveries_page(
    session: AsyncSession,
    org_id: UUID,
    source_id: UUID,
    *,
    status: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[WebhookDelivery], list[Any] | None]:
    """Newest first."""
    statement = select(WebhookDelivery).where(
        WebhookDelivery.org_id == org_id, WebhookDelivery.source_id == source_id
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    return await keyset_page(
        session,
        statement,
        order_by=[WebhookDelivery.received_at, WebhookDelivery.id],
        sort_key=lambda delivery: [delivery.received_at, delivery.id],
        after=after,
        limit=limit,
        descending=True,
    )
