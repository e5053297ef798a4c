"""What this process believes of its read replica, and the log line of each change."""

import logging
from enum import Enum

from perfapi.db.availability import causes, is_database_unavailable

log = logging.getLogger("perfapi.replicas")


class ReplicaState(Enum):
    """The values of the unusable states are the ``reason`` label of the fallback counter."""

    HEALTHY = "healthy"
    LAGGING = "lag"
    DOWN = "down"


class ReplicaHealth:
    """Changed by every check and by a request that found the replica unreachable.

    Only changes are logged: a replica that is down for an hour writes two lines,
    not one per request that the primary served meanwhile.
    """

    def __init__(self, max_lag_seconds: float) -> None:
        self.max_lag_seconds = max_lag_seconds
        self.state = ReplicaState.HEALTHY

    def measured(self, lag: float | None) -> ReplicaState:
        """A check found the replica answering, ``lag`` seconds behind (None: unknown)."""
        if lag is not None and lag <= self.max_lag_seconds:
            self._become(ReplicaState.HEALTHY, "read replica usable again: its reads go to it")
        else:
            allowed = f"{self.max_lag_seconds:g} s"
            behind = (
                "behind every position of the primary noted lately, by an unknown time"
                if lag is None
                else f"behind the primary by {lag:.1f} s, more than the {allowed} allowed"
            )
            self._become(
                ReplicaState.LAGGING,
                f"read replica {behind}: the primary serves its reads",
                lag_seconds=lag,
            )
        return self.state

    def unreachable(self, error: BaseException) -> ReplicaState:
        self._become(
            ReplicaState.DOWN,
            f"read replica unreachable ({root_cause(error)}): the primary serves its reads",
            # A refused or dropped connection says all there is; anything else is a
            # surprise worth its traceback.
            exc_info=None if is_database_unavailable(error) else error,
        )
        return self.state

    def _become(
        self,
        state: ReplicaState,
        message: str,
        *,
        lag_seconds: float | None = None,
        exc_info: BaseException | None = None,
    ) -> None:
        if state is self.state:
            return
        previous, self.state = self.state, state
        log.log(
            logging.INFO if state is ReplicaState.HEALTHY else logging.WARNING,
            message,
            exc_info=exc_info,
            extra={
                "replica_state": state.value,
                "previous_state": previous.value,
                "lag_seconds": lag_seconds,
            },
        )


def root_cause(exc: BaseException) -> str:
    """The driver's own words: what SQLAlchemy wraps them in adds a statement and a link."""
    *_, root = causes(exc)
    return str(root) or type(root).__name__
