"""Helpers of the rollup failure tests: a recompute that fails for chosen KPIs, and the
state of the change log and of ``/metrics``."""

from datetime import date, datetime
from typing import NamedTuple
from uuid import UUID

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.rollups import repository


def fail_recompute_of(monkeypatch: pytest.MonkeyPatch, *kpi_ids: str) -> None:
    """Make recomputing these KPIs fail with a real database error.

    The error comes after the recompute's own writes and aborts the transaction,
    as a genuine overflow would: only rolling back to a savepoint keeps the rest
    of the batch. ``monkeypatch.undo()`` heals the KPIs.
    """
    original = repository.recompute_range
    failing = {UUID(kpi_id) for kpi_id in kpi_ids}

    async def recompute_range(
        session: AsyncSession, org_id: UUID, kpi_id: UUID, first_day: date, last_day: date
    ) -> None:
        await original(session, org_id, kpi_id, first_day, last_day)
        if kpi_id in failing:
            await session.execute(text("SELECT 1 / 0"))

    monkeypatch.setattr(repository, "recompute_range", recompute_range)


class ChangeState(NamedTuple):
    attempts: int
    next_attempt_at: datetime | None
    parked_at: datetime | None
    last_error: str | None


async def change_states(
    sessionmaker: async_sessionmaker[AsyncSession], kpi_id: str
) -> list[ChangeState]:
    """The KPI's logged changes, oldest first."""
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT attempts, next_attempt_at, parked_at, last_error FROM rollup_changes"
                " WHERE kpi_id = CAST(:kpi AS uuid) ORDER BY id"
            ),
            {"kpi": kpi_id},
        )
        return [ChangeState(*row) for row in rows]


async def day_rollup_count(sessionmaker: async_sessionmaker[AsyncSession], kpi_id: str) -> int:
    async with sessionmaker() as session:
        count: int = await session.scalar(
            text("SELECT count(*) FROM kpi_day_rollups WHERE kpi_id = CAST(:kpi AS uuid)"),
            {"kpi": kpi_id},
        )
        return count


async def metric(client: httpx.AsyncClient, sample_name: str) -> float:
    """A sample of ``/metrics`` without labels; 0 when absent."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == sample_name:
                return float(sample.value)
    return 0.0
