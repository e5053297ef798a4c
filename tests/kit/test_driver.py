"""Reads through the session's asyncpg connection: same transaction, typed-enough rows."""

import re
import uuid

from sqlalchemy import Integer, bindparam, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.kit import driver
from perfapi.kit.driver import DriverStatement
from perfapi.orgs.service import create_org
from perfapi.reports import schemas

_ORGS = DriverStatement.of(text("SELECT count(*) FROM orgs"))


async def test_a_first_read_through_the_driver_runs_in_the_sessions_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        # No statement has run yet: SQLAlchemy has not sent BEGIN.
        ((before,),) = await driver.fetch(session, _ORGS, {})
        async with sessionmaker() as writer, writer.begin():
            await create_org(writer, f"org-{uuid.uuid4().hex[:8]}")
        # Committed meanwhile, yet invisible: both reads below share the first one's snapshot.
        ((after,),) = await driver.fetch(session, _ORGS, {})
        through_sqlalchemy = (await session.execute(text("SELECT count(*) FROM orgs"))).scalar_one()
    assert before == after == through_sqlalchemy
    async with sessionmaker() as fresh:
        assert (await fresh.execute(text("SELECT count(*) FROM orgs"))).scalar_one() == before + 1


async def test_a_statement_compiles_once_with_its_own_values_and_shared_names(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    statement = DriverStatement.of(
        select(
            literal_column("1").label("one"),
            bindparam("x", type_=Integer) + bindparam("x") + 0,
        ).limit(1)
    )
    # x is bound once and used twice; the 0 and the LIMIT travel with the statement.
    assert len(set(re.findall(r"\$\d+", statement.sql))) == len(statement.names) == 3
    async with sessionmaker() as session:
        rows = await driver.fetch(session, statement, {"x": 2})
    assert [tuple(row) for row in rows] == [(1, 4)]


async def test_records_answer_to_their_names_and_serialise_as_the_standard_library_ids(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    pair = driver.record_class("Pair", ("id", "title"))
    statement = DriverStatement.of(text("SELECT CAST(:id AS uuid), CAST(:title AS text)"))
    known = uuid.uuid4()
    async with sessionmaker() as session:
        (row,) = await driver.fetch(session, statement, {"id": known, "title": "t"}, pair)
    assert (row.id, row.title) == tuple(row) == (known, "t")
    assert isinstance(row.id, uuid.UUID)
    assert {known: "found"}[row.id] == "found"
    item = schemas.UnalignedObjective(id=row.id, title=row.title, team=None)
    same = schemas.UnalignedObjective(id=known, title="t", team=None)
    assert item.model_dump_json() == same.model_dump_json()
