from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    Boolean,
    Row,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit import driver
from perfapi.kit.conflicts import flush_or_conflict
from perfapi.kit.driver import DriverStatement
from perfapi.kit.repository import AnySelect, created_sort_key, keyset_page, keyset_rows
from perfapi.models import Kpi, Objective, ObjectiveKpi

KEY_TAKEN_CONSTRAINT = "objectives_org_id_key_key"
HAS_CHILDREN_CONSTRAINT = "objectives_org_id_parent_id_fkey"

# Namespace of the per-org advisory lock taken while the tree's shape changes.
_TREE_LOCK_NAMESPACE = 0x7065_7266  # "perf"

_objectives = Objective.__table__.c


class TreeRow(Protocol):
    """What progress and the reports read of an objective: a driver record, read by
    attribute."""

    @property
    def id(self) -> UUID: ...
    @property
    def parent_id(self) -> UUID | None: ...
    @property
    def title(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def team(self) -> str | None: ...
    @property
    def weight(self) -> float: ...
    @property
    def start_date(self) -> date: ...
    @property
    def due_date(self) -> date: ...


_TREE_COLUMNS = ("id", "parent_id", "title", "status", "team", "weight", "start_date", "due_date")
_TreeRecord = driver.record_class("TreeRecord", _TREE_COLUMNS)


@dataclass(frozen=True)
class ObjectiveFilters:
    parent_id: UUID | None = None
    roots_only: bool = False
    statuses: Sequence[str] = ()
    team: str | None = None
    owner: str | None = None
    due_from: date | None = None
    due_to: date | None = None


async def get(
    session: AsyncSession, org_id: UUID, objective_id: UUID, *, for_reference: bool = False
) -> Objective | None:
    """The objective, or None.

    ``for_reference`` takes a FOR KEY SHARE lock for a caller about to write a row
    that refers to it (a child, a key result, a link): a concurrent delete then
    waits for that write and sees it, instead of both succeeding.
    """
    statement = select(Objective).where(Objective.org_id == org_id, Objective.id == objective_id)
    if for_reference:
        statement = statement.with_for_update(read=True, key_share=True)
    objective: Objective | None = await session.scalar(statement)
    return objective


async def lock_tree(session: AsyncSession, org_id: UUID) -> None:
    """Serialise changes of parents within one org until the transaction ends.

    Two concurrent moves (A under B, B under A) would each pass the cycle check
    alone; under this lock the second sees the first.
    """
    await session.execute(
        select(func.pg_advisory_xact_lock(_TREE_LOCK_NAMESPACE, func.hashtext(str(org_id))))
    )


async def is_ancestor_or_self(
    session: AsyncSession, org_id: UUID, candidate: UUID, of: UUID
) -> bool:
    """Whether ``candidate`` is ``of`` or one of its ancestors, at any depth."""
    chain = (
        select(Objective.id, Objective.parent_id)
        .where(Objective.org_id == org_id, Objective.id == of)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Objective.id, Objective.parent_id).where(
            Objective.org_id == org_id, Objective.id == chain.c.parent_id
        )
    )
    found = await session.scalar(select(exists().where(chain.c.id == candidate)))
    return bool(found)


async def has_children(session: AsyncSession, org_id: UUID, objective_id: UUID) -> bool:
    found = await session.scalar(
        select(exists().where(Objective.org_id == org_id, Objective.parent_id == objective_id))
    )
    return bool(found)


async def save(session: AsyncSession, objective: Objective) -> Objective:
    session.add(objective)
    await flush_or_conflict(
        session,
        {KEY_TAKEN_CONSTRAINT: f"An objective with key {objective.key!r} already exists."},
    )
    await session.refresh(objective)
    return objective


async def remove(session: AsyncSession, objective: Objective) -> None:
    await session.delete(objective)
    await flush_or_conflict(
        session, {HAS_CHILDREN_CONSTRAINT: "The objective has children; delete or move them first."}
    )


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    filters: ObjectiveFilters,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[Objective], list[Any] | None]:
    statement = select(Objective).where(Objective.org_id == org_id)
    if filters.roots_only:
        statement = statement.where(Objective.parent_id.is_(None))
    elif filters.parent_id is not None:
        statement = statement.where(Objective.parent_id == filters.parent_id)
    if filters.statuses:
        statement = statement.where(Objective.status.in_(filters.statuses))
    if filters.team is not None:
        statement = statement.where(Objective.team == filters.team)
    if filters.owner is not None:
        statement = statement.where(Objective.owner == filters.owner)
    if filters.due_from is not None:
        statement = statement.where(Objective.due_date >= filters.due_from)
    if filters.due_to is not None:
        statement = statement.where(Objective.due_date <= filters.due_to)
    return await keyset_page(
        session,
        statement,
        order_by=[Objective.created_at, Objective.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


_LINK_COLUMNS = (
    ObjectiveKpi.objective_id,
    ObjectiveKpi.kpi_id,
    Kpi.key.label("kpi_key"),
    Kpi.name.label("kpi_name"),
    ObjectiveKpi.weight,
    ObjectiveKpi.created_at,
    ObjectiveKpi.updated_at,
)


def _links(org_id: UUID) -> AnySelect:
    return (
        select(*_LINK_COLUMNS)
        .join(Kpi, (Kpi.org_id == ObjectiveKpi.org_id) & (Kpi.id == ObjectiveKpi.kpi_id))
        .where(ObjectiveKpi.org_id == org_id)
    )


async def upsert_link(
    session: AsyncSession, org_id: UUID, objective_id: UUID, kpi_id: UUID, weight: float
) -> tuple[Row[Any], bool]:
    """Create or re-weight the link; return it and whether it was created."""
    statement = (
        insert(ObjectiveKpi)
        .values(org_id=org_id, objective_id=objective_id, kpi_id=kpi_id, weight=weight)
        .on_conflict_do_update(
            index_elements=["org_id", "objective_id", "kpi_id"],
            set_={"weight": weight, "updated_at": func.now()},
        )
        # xmax is 0 only on a row version this statement inserted.
        .returning(literal_column("xmax = 0", Boolean))
    )
    created = bool(await session.scalar(statement))
    link = await session.execute(
        _links(org_id).where(
            ObjectiveKpi.objective_id == objective_id, ObjectiveKpi.kpi_id == kpi_id
        )
    )
    return link.one(), created


async def list_links_page(
    session: AsyncSession,
    org_id: UUID,
    objective_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[Row[Any]], list[Any] | None]:
    return await keyset_rows(
        session,
        _links(org_id).where(ObjectiveKpi.objective_id == objective_id),
        order_by=[ObjectiveKpi.created_at, ObjectiveKpi.kpi_id],
        sort_key=lambda link: [link.created_at, link.kpi_id],
        after=after,
        limit=limit,
    )


async def link_weight(
    session: AsyncSession, org_id: UUID, objective_id: UUID, kpi_id: UUID
) -> float | None:
    """The link's weight, locked until the transaction ends; None when not linked."""
    weight: float | None = await session.scalar(
        select(ObjectiveKpi.weight)
        .where(
            ObjectiveKpi.org_id == org_id,
            ObjectiveKpi.objective_id == objective_id,
            ObjectiveKpi.kpi_id == kpi_id,
        )
        .with_for_update()
    )
    return weight


async def remove_link(
    session: AsyncSession, org_id: UUID, objective_id: UUID, kpi_id: UUID
) -> float | None:
    """Remove the link; the weight it had, or None when there was none."""
    weight: float | None = await session.scalar(
        delete(ObjectiveKpi)
        .where(
            ObjectiveKpi.org_id == org_id,
            ObjectiveKpi.objective_id == objective_id,
            ObjectiveKpi.kpi_id == kpi_id,
        )
        .returning(ObjectiveKpi.weight)
    )
    return weight


@cache
def _tree_statement(subtree: bool) -> DriverStatement:
    """The statement of :func:`tree_rows`, built and compiled once."""
    org_id: BindParameter[UUID] = bindparam("org_id")
    statement = select(*(_objectives[name] for name in _TREE_COLUMNS)).where(
        _objectives.org_id == org_id
    )
    if subtree:
        root_ids = bindparam("root_ids", type_=ARRAY(_objectives.id.type))
        tree = (
            select(_objectives.id)
            .where(_objectives.org_id == org_id, _objectives.id == any_(root_ids))
            .cte("tree", recursive=True)
        )
        tree = tree.union(
            select(_objectives.id).where(
                _objectives.org_id == org_id, _objectives.parent_id == tree.c.id
            )
        )
        statement = statement.where(_objectives.id.in_(select(tree.c.id)))
    return DriverStatement.of(statement.order_by(_objectives.created_at, _objectives.id))


async def tree_rows(
    session: AsyncSession, org_id: UUID, root_ids: Sequence[UUID] | None
) -> list[TreeRow]:
    """The objectives under (and including) these roots, every objective for None, in
    creation order.

    Plain rows through the driver, not entities nor SQLAlchemy rows: a report reads
    thousands of objectives, and processing each costs more than reading it.
    """
    params: dict[str, Any] = {"org_id": org_id}
    if root_ids is not None:
        params["root_ids"] = list(root_ids)
    return await driver.fetch(session, _tree_statement(root_ids is not None), params, _TreeRecord)


async def count(session: AsyncSession, org_id: UUID) -> int:
    """How many objectives the org has."""
    found = await session.scalar(
        select(func.count()).select_from(Objective.__table__).where(_objectives.org_id == org_id)
    )
    return int(found or 0)


async def kpi_links(session: AsyncSession, org_id: UUID) -> list[tuple[UUID, UUID]]:
    """Every (objective_id, kpi_id) link of the org."""
    rows = await session.execute(
        select(ObjectiveKpi.objective_id, ObjectiveKpi.kpi_id).where(ObjectiveKpi.org_id == org_id)
    )
    return [(objective_id, kpi_id) for objective_id, kpi_id in rows]


class Stewardship(NamedTuple):
    """Who answers for an objective, and how often its key results expect a check-in
    (None: as its parent asks)."""

    id: UUID
    owner: str | None
    check_in_every_days: int | None


async def stewardship(session: AsyncSession, org_id: UUID) -> list[Stewardship]:
    """Of every objective of the org, in no particular order."""
    rows = await session.execute(
        select(Objective.id, Objective.owner, Objective.check_in_every_days).where(
            Objective.org_id == org_id
        )
    )
    return [Stewardship._make(row) for row in rows]
