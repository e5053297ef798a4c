"""Alembic migrations: the lock, the round trip, and the schema rules."""

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from perfapi.db.migrate import alembic_config, migrate, migration_lock
from perfapi.models import Base
from tests.support import fresh_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _version(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            version: str | None = await connection.scalar(
                text("SELECT version_num FROM alembic_version")
            )
            return version
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def test_concurrent_migrations_both_succeed(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "race") as url:
        await asyncio.gather(_migrate(url), _migrate(url), _migrate(url))
        assert await _version(url) == HEAD


async def test_a_held_lock_makes_migrations_wait(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "lock") as url:
        holder = create_async_engine(url)
        try:
            async with migration_lock(holder):
                waiting = asyncio.create_task(_migrate(url))
                done, _ = await asyncio.wait({waiting}, timeout=0.5)
                assert not done, "migrate() ran while another process held the lock"
                assert await _version_or_none(url) is None
            await waiting
        finally:
            await holder.dispose()
        assert await _version(url) == HEAD


async def _version_or_none(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            if exists is None:
                return None
            version: str | None = await connection.scalar(
                text("SELECT version_num FROM alembic_version")
            )
            return version
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "roundtrip") as url:
        await _migrate(url)
        engine = create_async_engine(url)
        try:

            def down(sync_connection: Connection) -> list[str]:
                config = alembic_config()
                config.attributes["connection"] = sync_connection
                command.downgrade(config, "base")
                return inspect(sync_connection).get_table_names()

            async with engine.connect() as connection:
                remaining = await connection.run_sync(down)
                await connection.commit()
            assert remaining == ["alembic_version"]
        finally:
            await engine.dispose()
        await _migrate(url)
        assert await _version(url) == HEAD


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:

            def differences(sync_connection: Connection) -> list[object]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


# Indexes allowed not to lead with org_id, each with the reason in the model.
NOT_ORG_LED = {"api_keys_prefix_idx", "webhook_sources_id_idx"}


@pytest.mark.parametrize("table", [t for t in Base.metadata.sorted_tables if t.name != "orgs"])
def test_org_id_leads_every_key_and_index(table: object) -> None:
    from sqlalchemy import Table

    assert isinstance(table, Table)
    assert next(iter(table.primary_key.columns)).name == "org_id"
    for index in table.indexes:
        if index.name not in NOT_ORG_LED:
            assert next(iter(index.columns)).name == "org_id", index.name
    for constraint in table.foreign_key_constraints:
        assert constraint.column_keys[0] == "org_id", constraint.name
    for unique in (c for c in table.constraints if type(c).__name__ == "UniqueConstraint"):
        assert next(iter(unique.columns)).name == "org_id", unique.name  # type: ignore[attr-defined]
