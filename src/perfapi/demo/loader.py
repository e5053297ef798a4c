"""Writes the demo dataset into one org through the services the API uses.

Going through the services, not the tables, means the demo obeys every rule the API
enforces (key formats, non-overlapping targets, direction rules, atomic ingestion),
and the data it leaves behind is exactly what a user could have sent.
"""

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.demo.data import build_dataset
from perfapi.demo.specs import Dataset, PointSpec
from perfapi.key_results import service as key_results
from perfapi.key_results.schemas import CheckInCreate, KeyResultCreate
from perfapi.kpis import repository as kpis_repository
from perfapi.kpis import service as kpis
from perfapi.kpis.schemas import KpiCreate, KpiTargetCreate
from perfapi.objectives import repository as objectives_repository
from perfapi.objectives import service as objectives
from perfapi.objectives.schemas import ObjectiveCreate
from perfapi.points import service as points
from perfapi.points.service import NDJSON

# Points per ingest call: about what a client would send per request. Each call is
# atomic on its own; the caller's transaction makes the whole load atomic.
POINTS_PER_BATCH = 2_000
_LINES_PER_CHUNK = 500


class OrgNotEmptyError(ValueError):
    """The org already has KPIs or objectives; the demo only fills an empty org.

    A ValueError, as callers expect, but its own type so a command can catch it
    without also catching pydantic's ValidationError (a ValueError too).
    """


@dataclass(frozen=True)
class DemoSummary:
    objectives: int
    key_results: int
    check_ins: int
    kpis: int
    targets: int
    links: int
    points: int


async def load_demo(
    session: AsyncSession, org_id: UUID, *, today: date, seed: int = 7
) -> DemoSummary:
    """Fill an empty org with a year of strategy, KPIs and measurements up to ``today``.

    Deterministic for a given ``seed`` and ``today``; nothing is dated after ``today``
    (pass the current UTC date). Raises OrgNotEmptyError, before writing anything, when
    the org already has a KPI or an objective. Does not commit: the caller's
    transaction decides, so a failure half-way leaves nothing behind.
    """
    # Held until the transaction ends: a second load into the same org waits here,
    # then sees this one's data and is refused, instead of failing on a duplicate key.
    await objectives_repository.lock_tree(session, org_id)
    await _refuse_unless_empty(session, org_id)
    dataset = build_dataset(today=today, seed=seed)
    kpi_ids = await _write_kpis(session, org_id, dataset)
    objective_ids = await _write_objectives(session, org_id, dataset, today.year)
    key_result_ids = await _write_key_results(session, org_id, dataset, kpi_ids, objective_ids)
    for link in dataset.links:
        await objectives.link_kpi(
            session, org_id, objective_ids[link.objective], kpi_ids[link.kpi], link.weight
        )
    stored = 0
    for first in range(0, len(dataset.points), POINTS_PER_BATCH):
        batch = dataset.points[first : first + POINTS_PER_BATCH]
        stored += (await points.ingest(session, org_id, NDJSON, _ndjson(batch))).inserted
    return DemoSummary(
        objectives=len(objective_ids),
        key_results=len(key_result_ids),
        check_ins=len(dataset.check_ins),
        kpis=len(kpi_ids),
        targets=len(dataset.targets),
        links=len(dataset.links),
        points=stored,
    )


async def _refuse_unless_empty(session: AsyncSession, org_id: UUID) -> None:
    # Points, targets, links, key results and check-ins all hang off a KPI or an
    # objective (ingestion refuses points of unknown KPIs; deleting a KPI deletes its
    # points), so an org without either has no strategy data at all.
    found_kpis, _ = await kpis_repository.list_page(session, org_id, tag=None, after=None, limit=1)
    found_objectives, _ = await objectives_repository.list_page(
        session, org_id, objectives_repository.ObjectiveFilters(), after=None, limit=1
    )
    if found_kpis or found_objectives:
        raise OrgNotEmptyError(
            f"Org {org_id} already has data; demo fills an empty org. "
            "Create a new org for it (perfapi orgs create <name>)."
        )


async def _write_kpis(session: AsyncSession, org_id: UUID, dataset: Dataset) -> dict[str, UUID]:
    """The KPIs and their targets; returns the KPIs' ids by key."""
    ids: dict[str, UUID] = {}
    for kpi in dataset.kpis:
        body = KpiCreate(
            key=kpi.key,
            name=kpi.name,
            unit=kpi.unit,
            direction=kpi.direction,
            aggregation=kpi.aggregation,
            tags=list(kpi.tags),
        )
        ids[kpi.key] = (await kpis.create(session, org_id, body)).id
    for target in dataset.targets:
        period = KpiTargetCreate(
            period_start=target.period_start, period_end=target.period_end, value=target.value
        )
        await kpis.add_target(session, org_id, ids[target.kpi], period)
    return ids


async def _write_objectives(
    session: AsyncSession, org_id: UUID, dataset: Dataset, year: int
) -> dict[str, UUID]:
    """The tree, parents before children; returns the objectives' ids by team."""
    ids: dict[str, UUID] = {}
    for objective in dataset.objectives:
        body = ObjectiveCreate(
            key=f"{year}-{objective.team}",
            title=objective.title,
            parent_id=ids[objective.parent] if objective.parent else None,
            owner=objective.owner,
            team=objective.team,
            start_date=objective.start_date,
            due_date=objective.due_date,
            weight=objective.weight,
            status=objective.status,
        )
        ids[objective.team] = (await objectives.create(session, org_id, body)).id
    return ids


async def _write_key_results(
    session: AsyncSession,
    org_id: UUID,
    dataset: Dataset,
    kpi_ids: dict[str, UUID],
    objective_ids: dict[str, UUID],
) -> list[UUID]:
    """The key results and their check-ins; returns the key results' ids in order."""
    ids: list[UUID] = []
    for kr in dataset.key_results:
        start, target, low, high = kr.bounds()
        body = KeyResultCreate(
            title=kr.title,
            direction=kr.direction,
            start_value=start,
            target_value=target,
            range_min=low,
            range_max=high,
            kpi_id=kpi_ids[kr.kpi] if kr.kpi else None,
            unit=kr.unit,
            weight=kr.weight,
        )
        ids.append(
            (await key_results.create(session, org_id, objective_ids[kr.objective], body)).id
        )
    for check_in in dataset.check_ins:
        value = CheckInCreate(
            value=check_in.value, at=check_in.at, note=check_in.note, confidence=check_in.confidence
        )
        await key_results.check_in(session, org_id, ids[check_in.key_result], value)
    return ids


async def _ndjson(batch: Sequence[PointSpec]) -> AsyncIterator[bytes]:
    """The batch as NDJSON, in a few chunks as a request body would arrive."""
    for first in range(0, len(batch), _LINES_PER_CHUNK):
        lines = [_line(point) for point in batch[first : first + _LINES_PER_CHUNK]]
        yield "".join(lines).encode()


def _line(point: PointSpec) -> str:
    body: dict[str, object] = {"kpi": point.kpi, "ts": point.ts.isoformat(), "value": point.value}
    if point.dimensions:
        body["dimensions"] = point.dimensions
    return json.dumps(body, separators=(",", ":")) + "\n"
