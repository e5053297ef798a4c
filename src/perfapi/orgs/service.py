from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

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
    if await repository.get_by_name(session, name) is not None:
        raise ConflictError(f"An org named {name!r} already exists.")
    return await repository.add(session, Org(name=name))


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
    _, token = await issue_key(session, org.id, "bootstrap admin key", list(Scope))
    return BootstrapKey(org=org, token=token)
