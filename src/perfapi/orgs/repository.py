from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.models import Org


async def get_by_name(session: AsyncSession, name: str) -> Org | None:
    result: Org | None = await session.scalar(select(Org).where(Org.name == name))
    return result


async def any_exist(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().select_from(Org))))


async def add(session: AsyncSession, org: Org) -> Org:
    session.add(org)
    await session.flush()
    return org


async def list_all(session: AsyncSession) -> list[Org]:
    return list((await session.scalars(select(Org).order_by(Org.name))).all())
