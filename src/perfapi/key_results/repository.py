from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from sqlalchemy import BindParameter, ScalarSelect, any_, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.kit import driver
from perfapi.kit.driver import DriverStatement
from perfapi.kit.repository import AnySelect, created_sort_key, keyset_page, one_of
from perfapi.models import CheckIn, KeyResult, Kpi, Objective


async def get(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> KeyResult | None:
    key_result: KeyResult | None = await session.scalar(
        select(KeyResult).where(KeyResult.org_id == org_id, KeyResult.id == key_result_id)
    )
    return key_result


async def lock(session: AsyncSession, org_id: UUID, key_result_id: UUID) -> KeyResult | None:
    """The key result, locked so a check-in and a change of its kpi_id cannot interleave."""
    key_result: KeyResult | None = await session.scalar(
        select(KeyResult)
        .where(KeyResult.org_id == org_id, KeyResult.id == key_result_id)
        .with_for_update()
    )
    return key_result


async def save(session: AsyncSession, key_result: KeyResult) -> KeyResult:
    session.add(key_result)
    await session.flush()
    await session.refresh(key_result)
    return key_result


async def remove(session: AsyncSession, key_result: KeyResult) -> None:
    await session.delete(key_result)
    await session.flush()


async def list_page(
    session: AsyncSession,
    org_id: UUID,
    objective_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[KeyResult], list[Any] | None]:
    return await keyset_page(
        session,
        select(KeyResult).where(KeyResult.org_id == org_id, KeyResult.objective_id == objective_id),
        order_by=[KeyResult.created_at, KeyResult.id],
        sort_key=created_sort_key,
        after=after,
        limit=limit,
    )


async def add_check_in(session: AsyncSession, check_in: CheckIn) -> CheckIn:
    session.add(check_in)
    await session.flush()
    await session.refresh(check_in)
    return check_in


async def get_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> CheckIn | None:
    check_in: CheckIn | None = await session.scalar(
        select(CheckIn).where(CheckIn.org_id == org_id, CheckIn.id == check_in_id)
    )
    return check_in


async def remove_check_in(session: AsyncSession, org_id: UUID, check_in_id: UUID) -> bool:
    result = await session.execute(
        delete(CheckIn)
        .where(CheckIn.org_id == org_id, CheckIn.id == check_in_id)
        .returning(CheckIn.id)
    )
    return result.first() is not None


async def list_check_ins_page(
    session: AsyncSession,
    org_id: UUID,
    key_result_id: UUID,
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[CheckIn], list[Any] | None]:
    """Oldest first, by the time each value was true."""
    return await keyset_page(
        session,
        select(CheckIn).where(CheckIn.org_id == org_id, CheckIn.key_result_id == key_result_id),
        order_by=[CheckIn.at, CheckIn.id],
        sort_key=lambda check_in: [check_in.at, check_in.id],
        after=after,
        limit=limit,
    )


_key_results = KeyResult.__table__.c
_check_ins = CheckIn.__table__.c
_kpis = Kpi.__table__.c
_objectives = Objective.__table__.c


class RuleFields(Protocol):
    """A key result's rule: what scores its current value."""

    @property
    def direction(self) -> str: ...
    @property
    def start_value(self) -> float | None: ...
    @property
    def target_value(self) -> float | None: ...
    @property
    def range_min(self) -> float | None: ...
    @property
    def range_max(self) -> float | None: ...


class ScoreRow(RuleFields, Protocol):
    """What the progress of a key result is computed from: a driver record, read by
    attribute or unpacked in this order (objective_id, its rule's five fields, kpi_id,
    weight, aggregation, check_in_value)."""

    @property
    def objective_id(self) -> UUID: ...
    @property
    def kpi_id(self) -> UUID | None: ...
    @property
    def weight(self) -> float: ...
    @property
    def aggregation(self) -> str | None: ...  # of the KPI it reads
    @property
    def check_in_value(self) -> float | None: ...  # the latest at or before as_of, if any
    def __iter__(self) -> Iterator[Any]: ...


class ProgressRow(ScoreRow, Protocol):
    """A :class:`ScoreRow` with what explaining it shows (unpacked, these two come last)."""

    @property
    def id(self) -> UUID: ...
    @property
    def title(self) -> str: ...


_SCORE_COLUMNS = (
    "objective_id", "direction", "start_value", "target_value", "range_min", "range_max",
    "kpi_id", "weight",
)  # fmt: skip
_SCORE_FIELDS = (*_SCORE_COLUMNS, "aggregation", "check_in_value")
_ScoreRecord = driver.record_class("ScoreRecord", _SCORE_FIELDS)
_ProgressRecord = driver.record_class("ProgressRecord", (*_SCORE_FIELDS, "id", "title"))


class ValueSourceRow(NamedTuple):
    """What a key result's current value comes from."""

    id: UUID
    objective_id: UUID
    kpi_id: UUID | None
    aggregation: str | None  # of the KPI it reads
    check_in_value: float | None  # the latest at or before as_of, if it takes check-ins
    start_date: date  # of its objective
    due_date: date


def _latest_check_in(as_of: datetime | BindParameter[datetime]) -> ScalarSelect[float]:
    """The latest check-in value at or before ``as_of`` of the key result in the outer
    query, if it takes check-ins: one index probe per key result."""
    return (
        select(_check_ins.value)
        .where(
            _check_ins.org_id == _key_results.org_id,
            _check_ins.key_result_id == _key_results.id,
            _key_results.kpi_id.is_(None),
            _check_ins.at <= as_of,
        )
        .order_by(_check_ins.at.desc(), _check_ins.created_at.desc())
        .limit(1)
        .correlate(KeyResult.__table__)
        .scalar_subquery()
    )


def _with_kpi(statement: AnySelect) -> AnySelect:
    return statement.outerjoin(
        Kpi.__table__, (_kpis.org_id == _key_results.org_id) & (_kpis.id == _key_results.kpi_id)
    )


@cache
def _progress_statement(whole_org: bool, explained: bool) -> DriverStatement:
    """The statement of :func:`score_rows` and :func:`progress_rows`, built and compiled
    once: a report runs it on every read, and building and keying it anew cost a tenth
    of running it."""
    org_id: BindParameter[UUID] = bindparam("org_id")
    as_of: BindParameter[datetime] = bindparam("as_of")
    columns = [_key_results[name] for name in _SCORE_COLUMNS] + [_kpis.aggregation]
    if whole_org:
        # One pass over the org's check-ins beats a probe per key result here.
        latest = (
            select(_check_ins.key_result_id, _check_ins.value)
            .where(_check_ins.org_id == org_id, _check_ins.at <= as_of)
            .order_by(_check_ins.key_result_id, _check_ins.at.desc(), _check_ins.created_at.desc())
            .ext(distinct_on(_check_ins.key_result_id))
            .subquery("latest")
        )
        statement = _with_kpi(select(*columns, latest.c.value)).outerjoin(
            latest, (latest.c.key_result_id == _key_results.id) & _key_results.kpi_id.is_(None)
        )
    else:
        objective_ids = bindparam("objective_ids", type_=ARRAY(_key_results.objective_id.type))
        statement = _with_kpi(select(*columns, _latest_check_in(as_of))).where(
            _key_results.objective_id == any_(objective_ids)
        )
    statement = statement.where(_key_results.org_id == org_id)
    if explained:
        statement = statement.add_columns(_key_results.id, _key_results.title).order_by(
            _key_results.created_at, _key_results.id
        )
    return DriverStatement.of(statement)


def _progress_params(
    org_id: UUID, objective_ids: Sequence[UUID] | None, as_of: datetime
) -> dict[str, Any]:
    params: dict[str, Any] = {"org_id": org_id, "as_of": as_of}
    if objective_ids is not None:
        params["objective_ids"] = list(objective_ids)
    return params


async def score_rows(
    session: AsyncSession, org_id: UUID, objective_ids: Sequence[UUID] | None, as_of: datetime
) -> list[ScoreRow]:
    """The key results of these objectives (every one of the org for None), with their
    latest check-in at or before ``as_of``, in no particular order: only what scoring
    them reads.

    Plain rows through the driver, not entities nor SQLAlchemy rows: a report reads
    thousands of key results, and processing each costs more than reading it. Without
    their ids, titles and order, which lists and reports do not show: decoding and
    sorting those would cost a fifth of the read.
    """
    statement = _progress_statement(objective_ids is None, explained=False)
    params = _progress_params(org_id, objective_ids, as_of)
    return await driver.fetch(session, statement, params, _ScoreRecord)


async def progress_rows(
    session: AsyncSession, org_id: UUID, objective_ids: Sequence[UUID] | None, as_of: datetime
) -> list[ProgressRow]:
    """As :func:`score_rows`, with each key result's id and title, in creation order: what
    explaining the progress of these objectives shows."""
    statement = _progress_statement(objective_ids is None, explained=True)
    params = _progress_params(org_id, objective_ids, as_of)
    return await driver.fetch(session, statement, params, _ProgressRecord)


async def value_sources(
    session: AsyncSession, org_id: UUID, key_result_ids: Sequence[UUID], as_of: datetime
) -> list[ValueSourceRow]:
    """What the current value of each of these key results comes from, as of ``as_of``."""
    statement = (
        _with_kpi(
            select(
                _key_results.id,
                _key_results.objective_id,
                _key_results.kpi_id,
                _kpis.aggregation,
                _latest_check_in(as_of),
                _objectives.start_date,
                _objectives.due_date,
            )
        )
        .join(
            Objective.__table__,
            (_objectives.org_id == _key_results.org_id)
            & (_objectives.id == _key_results.objective_id),
        )
        .where(_key_results.org_id == org_id, one_of(_key_results.id, key_result_ids))
    )
    return [ValueSourceRow._make(row) for row in (await session.execute(statement)).all()]


async def kpi_ids_in_use(session: AsyncSession, org_id: UUID) -> list[tuple[UUID, UUID]]:
    """Every (objective_id, kpi_id) of a key result reading a KPI."""
    rows = await session.execute(
        select(KeyResult.objective_id, KeyResult.kpi_id).where(
            KeyResult.org_id == org_id, KeyResult.kpi_id.is_not(None)
        )
    )
    return [(objective_id, kpi_id) for objective_id, kpi_id in rows if kpi_id is not None]


async def check_in_history(
    session: AsyncSession, org_id: UUID, key_result_ids: Sequence[UUID], as_of: datetime
) -> dict[UUID, list[tuple[datetime, float]]]:
    """Each key result's check-ins at or before ``as_of``, oldest first, as (at, value)."""
    if not key_result_ids:
        return {}
    rows = await session.execute(
        select(CheckIn.key_result_id, CheckIn.at, CheckIn.value)
        .where(
            CheckIn.org_id == org_id,
            one_of(CheckIn.key_result_id, key_result_ids),
            CheckIn.at <= as_of,
        )
        .order_by(CheckIn.key_result_id, CheckIn.at, CheckIn.created_at)
    )
    history: dict[UUID, list[tuple[datetime, float]]] = {}
    for key_result_id, at, value in rows:
        history.setdefault(key_result_id, []).append((at, value))
    return history


class CheckInRecency(NamedTuple):
    """A key result that takes check-ins, and when it last had one (None: never)."""

    id: UUID
    objective_id: UUID
    title: str
    created_at: datetime
    last_check_in_at: datetime | None


async def check_in_recency(
    session: AsyncSession, org_id: UUID, as_of: datetime
) -> list[CheckInRecency]:
    """Every key result of the org that takes check-ins, with its latest at or before
    ``as_of``: one pass over the org's check-ins."""
    latest = (
        select(CheckIn.key_result_id, func.max(CheckIn.at).label("at"))
        .where(CheckIn.org_id == org_id, CheckIn.at <= as_of)
        .group_by(CheckIn.key_result_id)
        .subquery("latest")
    )
    statement: AnySelect = (
        select(
            KeyResult.id, KeyResult.objective_id, KeyResult.title, KeyResult.created_at, latest.c.at
        )
        .outerjoin(latest, latest.c.key_result_id == KeyResult.id)
        .where(KeyResult.org_id == org_id, KeyResult.kpi_id.is_(None))
    )
    return [CheckInRecency._make(row) for row in await session.execute(statement)]
