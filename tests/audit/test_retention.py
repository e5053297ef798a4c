"""Entries older than ``PERFAPI_AUDIT_RETENTION_DAYS`` are pruned, org by org, in batches."""

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.audit import retention
from perfapi.config import Settings
from tests.audit.helpers import entries
from tests.support import Tenant, created


async def _age(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, resource_id: str, days: int
) -> None:
    """Date the resource's entries ``days`` back, as if written then."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE audit_events SET at = at - make_interval(days => :days) "
                "WHERE org_id = :org AND resource_id = :resource"
            ),
            {"days": days, "org": tenant.id, "resource": resource_id},
        )


async def test_prunes_what_is_older_than_the_retention_in_every_org(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = [
        await created(client, tenant, "/v1/kpis", {"key": f"o{n}", "name": "O"}) for n in range(5)
    ]
    kept = await created(client, tenant, "/v1/kpis", {"key": "kept", "name": "K"})
    theirs = await created(client, other_tenant, "/v1/kpis", {"key": "t", "name": "T"})
    for kpi in old:
        await _age(sessionmaker, tenant, kpi, 31)
    await _age(sessionmaker, tenant, kept, 29)
    await _age(sessionmaker, other_tenant, theirs, 400)
    # Batches of two: an org's backlog goes in several short transactions.
    monkeypatch.setattr(retention, "PRUNE_BATCH", 2)
    month = settings.model_copy(update={"audit_retention_days": 30})

    assert await retention.prune_once(sessionmaker, month, datetime.now(UTC)) == 6
    assert [e["resource"]["id"] for e in await entries(client, tenant)] == [kept]
    assert await entries(client, other_tenant) == []
    assert await retention.prune_once(sessionmaker, month, datetime.now(UTC)) == 0
    assert len(await entries(client, tenant)) == 1


async def test_the_default_keeps_a_year(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi = await created(client, tenant, "/v1/kpis", {"key": "k", "name": "K"})
    await _age(sessionmaker, tenant, kpi, 364)
    default = Settings(database_url=None)
    assert default.audit_retention_days == 365
    assert await retention.prune_once(sessionmaker, default, datetime.now(UTC)) == 0
    await _age(sessionmaker, tenant, kpi, 2)
    assert await retention.prune_once(sessionmaker, default, datetime.now(UTC)) == 1


@pytest.mark.parametrize("days", ["0", "-1", "forever", "36501"])
def test_a_bad_retention_setting_is_refused(monkeypatch: pytest.MonkeyPatch, days: str) -> None:
    monkeypatch.setenv("PERFAPI_AUDIT_RETENTION_DAYS", days)
    with pytest.raises(ValidationError, match="audit_retention_days"):
        Settings()
