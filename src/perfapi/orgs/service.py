from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.auth.service import issue_key
from perfapi.auth.tokens import Scope
from perfapi.errors import ConflictError, NotFoundError
from perfapi.models import Org
from perfapi.orgs import repository

DEFAULT_ORG_NAME = "default"


@dataclass(frozen=True)
class BootstrapKey:
    org: Org
    token: str


async def create_org(session: AsyncSession, name: str) -> Org:
    """A new org. Not recorded in the audit log: callers acting for someone (the CLI's
    ``orgs create``, the first start) call :func:`record_created` as well."""
    if await repository.get_by_name(session, name) is not None:
        raise ConflictError(f"An org named {name!r} already exists.")
    return await repository.add(session, Org(name=name))


async def record_created(session: AsyncSession, org: Org) -> None:
    """The org's first audit entry: its creation."""
    await audit.record(session, org.id, Action.ORG_CREATED, org.id, audit_changes.created(org))


async def org_named(session: AsyncSession, name: str) -> Org:
    org = await repository.get_by_name(session, name)
    if org is None:
        raise NotFoundError(f"No org named {name!r}.")
    return org


async def bootstrap_first_org(session: AsyncSession) -> BootstrapKey | None:
    """On an empty database create org ``default`` and one admin key; else do nothing.

    Callers hold the migration lock, so two servers starting together cannot both
    find the database empty.
    """
    if await repository.any_exist(session):
        return None
    org = await repository.add(session, Org(name=DEFAULT_ORG_NAME))
    await record_created(session, org)
    key, token = await issue_key(session, org.id, "bootstrap admin key", list(Scope))
    await audit.record(session, org.id, Action.API_KEY_CREATED, key.id, audit_changes.created(key))
    return BootstrapKey(org=org, token=token)
