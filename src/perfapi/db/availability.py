"""Tell "the database is unreachable" apart from other failures.

Such failures answer 503 with ``Retry-After`` so that clients and webhook
senders retry, instead of a 500 that reads like a bug.
"""

from sqlalchemy.exc import DBAPIError

_UNAVAILABLE_ASYNCPG_ERRORS = (
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "AdminShutdownError",
    "CrashShutdownError",
    "TooManyConnectionsError",
    "InterfaceError",
)


def is_database_unavailable(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | TimeoutError):
            return True
        if type(current).__name__ in _UNAVAILABLE_ASYNCPG_ERRORS and type(
            current
        ).__module__.startswith("asyncpg"):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False
