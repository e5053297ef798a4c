"""``conditional(...)``: the route dependency that tags an answer and answers 304.

Declared in a GET route's ``dependencies``, so it runs after authentication and
before the handler: a current tag costs one primary-key read, not the answer.
The tag is read in the request's transaction; reads run in one REPEATABLE READ
snapshot, so the version and the answer come from the same state of the data. A
route whose handler reads through the replica's session (``replica=True``) reads its
tag there too: a replica behind the primary must not give an old answer a new tag.
"""

import hashlib
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.params import Depends as DependsParam
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

import perfapi
from perfapi.auth.dependencies import current_principal
from perfapi.auth.service import Principal
from perfapi.auth.tokens import Scope
from perfapi.conditional import repository
from perfapi.conditional.tags import Clock, entity_tag, matches
from perfapi.db.session import DbSession
from perfapi.kit.clock import request_time
from perfapi.replicas.session import ReadReplicaSession

CACHE_CONTROL = "private, no-cache"
VARY = "Accept, Authorization"


class NotModifiedError(Exception):
    """The client's copy is current: answer 304 with its tag."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


def not_modified_response(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotModifiedError)
    return Response(
        status_code=304,
        headers={"ETag": exc.tag, "Cache-Control": CACHE_CONTROL, "Vary": VARY},
    )


IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="The `ETag` of a copy the client holds: if it is current, the answer "
        "is 304 with an empty body.",
    ),
]


def conditional(
    clock: Clock = Clock.NONE, scope: Scope = Scope.READ, *, replica: bool = False
) -> DependsParam:
    """A dependency for a GET route; ``scope`` is the one the route itself requires, and
    ``replica`` whether its handler takes a ``ReadReplicaSession``."""

    async def check(
        request: Request,
        session: DbSession,
        principal: Annotated[Principal, Security(current_principal, scopes=[scope])],
        if_none_match: IfNoneMatch = None,
    ) -> None:
        await _tag_or_not_modified(request, session, principal, if_none_match, clock)

    # The principal before the session: a request that fails authentication never
    # takes a connection to the replica.
    async def check_on_replica(
        request: Request,
        principal: Annotated[Principal, Security(current_principal, scopes=[scope])],
        session: ReadReplicaSession,
        if_none_match: IfNoneMatch = None,
    ) -> None:
        await _tag_or_not_modified(request, session, principal, if_none_match, clock)

    dependency: DependsParam = Depends(check_on_replica if replica else check)
    return dependency


async def _tag_or_not_modified(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    if_none_match: str | None,
    clock: Clock,
) -> None:
    data = await repository.data_version(session, principal.org_id)
    tag = entity_tag(
        _request_parts(request, principal),
        data,
        clock,
        request_time(request),
        as_of_given="as_of" in request.query_params,
    )
    if tag is None:
        return
    request.state.etag = tag
    if if_none_match is not None and matches(if_none_match, tag):
        raise NotModifiedError(tag)


@cache
def code_fingerprint() -> str:
    """A hash of perfapi's own source: a release that computes or formats an answer
    differently gives it another tag, while every process of one release agrees."""
    package = Path(perfapi.__file__).parent
    digest = hashlib.blake2b(digest_size=16)
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _request_parts(request: Request, principal: Principal) -> list[str]:
    # The org keeps two orgs' tags apart; the code fingerprint, two releases' answers.
    return [
        code_fingerprint(),
        str(principal.org_id),
        request.url.path,
        request.url.query,
        request.headers.get("accept", ""),
    ]
