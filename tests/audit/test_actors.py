"""Whose writes: nobody's is refused, the operator's are `cli`, an entry commits with its
write or not at all."""

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.audit import service as audit
from perfapi.audit.actions import Action, ResourceType
from perfapi.auth.actors import CLI, Actor, actor_var
from perfapi.config import Settings
from perfapi.kpis import service as kpis
from perfapi.kpis.schemas import KpiCreate
from perfapi.models import AuditEvent, Kpi
from tests.audit.helpers import entries
from tests.auth.jwt_support import AUDIENCE, ISSUER, SigningKey, claims, write_key_set
from tests.cli.processes import TOKEN_PATTERN, perfapi_env, run_cli
from tests.support import Tenant, bearer, running


def test_every_action_names_a_resource_type() -> None:
    assert {action.resource_type for action in Action} == set(ResourceType)


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_write_without_an_actor_is_refused_and_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    token = actor_var.set(None)  # as in a background task or a script: nobody
    try:
        with pytest.raises(audit.NoActorError, match=r"kpi\.created has no actor"):
            async with sessionmaker() as session, session.begin():
                await kpis.create(session, tenant.id, KpiCreate(key="k", name="K"))
    finally:
        actor_var.reset(token)
    assert await _count(sessionmaker, Kpi) == 0
    assert await _count(sessionmaker, AuditEvent) == 0


async def test_an_entry_is_rolled_back_with_its_write(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    with audit.acting_as(Actor("jwt", "user-1")):
        async with sessionmaker() as session:
            await session.begin()
            made = await kpis.create(session, tenant.id, KpiCreate(key="k", name="K"))
            assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 1
            await session.rollback()
        assert await _count(sessionmaker, AuditEvent) == 0
        async with sessionmaker() as session, session.begin():
            made = await kpis.create(session, tenant.id, KpiCreate(key="k", name="K"))
    async with sessionmaker() as session:
        [row] = (await session.scalars(select(AuditEvent))).all()
    assert (row.actor_type, row.actor_id, row.resource_id) == ("jwt", "user-1", str(made.id))
    assert row.request_id is None  # no request: the CLI and scripts have none


async def test_acting_as_restores_the_previous_actor() -> None:
    before = actor_var.get()
    with audit.acting_as(CLI):
        assert actor_var.get() == CLI
    assert actor_var.get() == before


async def test_cli_writes_are_recorded_as_the_operators(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    env = perfapi_env(PERFAPI_DATABASE_URL=database_url)
    code, out, err = await run_cli(
        "keys", "create", "--org", tenant.name, "--scope", "read", "--name", "etl", env=env
    )
    assert code == 0, err
    assert TOKEN_PATTERN.fullmatch(out.strip())
    [entry] = await entries(client, tenant, "&actor_id=cli")
    assert entry["actor"] == {"type": "cli", "id": "cli"}
    assert entry["action"] == "api_key.created"
    assert entry["request_id"] is None
    assert entry["changes"]["name"] == [None, "etl"]
    listed = await client.get("/v1/api-keys", headers=tenant.headers)
    [key] = [k for k in listed.json()["items"] if k["name"] == "etl"]
    assert entry["resource"] == {"type": "api_key", "id": key["id"]}

    name = f"cli-{uuid.uuid4().hex[:8]}"
    code, out, err = await run_cli("orgs", "create", name, env=env)
    assert code == 0, err
    org_id = out.strip().rsplit("(", 1)[1].rstrip(")")
    code, out, err = await run_cli("keys", "create", "--org", name, "--scope", "admin", env=env)
    assert code == 0, err
    org = Tenant(id=uuid.UUID(org_id), name=name, token=out.strip())
    created_org, created_key = reversed(await entries(client, org))
    assert created_org["action"] == "org.created"
    assert created_org["resource"] == {"type": "org", "id": org_id}
    assert created_org["changes"] == {"name": [None, name]}
    assert created_key["action"] == "api_key.created"
    assert {created_org["actor"]["type"], created_key["actor"]["type"]} == {"cli"}


async def test_a_signed_in_users_writes_are_recorded_by_their_subject(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    key = SigningKey.generate("ES256")
    key_set = tmp_path / "jwks.json"
    write_key_set(key_set, [key])
    configured = settings.model_copy(
        update={"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_jwks_file": key_set}
    )
    token = key.sign(claims(sub="alice@example.com", org=tenant.name))
    async with running(configured) as signed_in:
        response = await signed_in.post(
            "/v1/kpis", headers=bearer(token), json={"key": "k", "name": "K"}
        )
    assert response.status_code == 201, response.text
    [entry] = await entries(client, tenant, "&actor_id=alice%40example.com")
    assert entry["actor"] == {"type": "jwt", "id": "alice@example.com"}
    assert entry["action"] == "kpi.created"
    assert entry["request_id"] == response.headers["x-request-id"]
