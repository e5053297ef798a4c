"""The current request's id, visible to logs and error bodies."""

import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("perfapi_request_id", default=None)

# A client-chosen id is echoed only when it is short and plain, so it can never
# inject anything into logs or headers.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def accept_or_make_request_id(candidate: str | None) -> str:
    if candidate is not None and _ACCEPTABLE_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex
