"""The request's "now": one instant for every default a request derives from the clock.

Read once and kept on the request, so that an implicit ``as_of`` and the tag
that says whether the answer can still change are computed at the same instant.
"""

from datetime import UTC, datetime

from starlette.requests import Request


def request_time(request: Request) -> datetime:
    now = getattr(request.state, "now", None)
    if not isinstance(now, datetime):
        now = datetime.now(UTC)
        request.state.now = now
    return now
