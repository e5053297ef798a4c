"""Tell "the database is unreachable" apart from other failures.

Such failures answer 503 with ``Retry-After`` so that clients and webhook
senders retry, instead of a 500 that reads like a bug.
"""

from collections.abc import Iterator

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
    for current in causes(exc):
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | TimeoutError):
            return True
        if _is_asyncpg(current, _UNAVAILABLE_ASYNCPG_ERRORS):
            return True
    return False


def is_serialization_failure(exc: BaseException) -> bool:
    """SQLSTATE 40001: the statement was cancelled, and the same request may succeed.

    Reads run in read-only snapshots, where the primary never raises it; a hot-standby
    replica does, when replaying the primary's changes conflicts with a long read.
    """
    return any(_is_asyncpg(current, ("SerializationError",)) for current in causes(exc))


def _is_asyncpg(exc: BaseException, names: tuple[str, ...]) -> bool:
    return type(exc).__name__ in names and type(exc).__module__.startswith("asyncpg")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of the driver's error under SQLAlchemy's wrapping, if any."""
    for current in causes(exc):
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it wraps (SQLAlchemy's ``orig``, else ``__cause__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
