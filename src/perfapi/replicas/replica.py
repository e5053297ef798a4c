"""The read replica of one process: its engine, its measured lag, and sessions on it."""

import asyncio
import time

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.db.engine import create_sessionmaker
from perfapi.db.session import READ_SNAPSHOT
from perfapi.replicas import repository
from perfapi.replicas.health import ReplicaHealth, ReplicaState
from perfapi.replicas.lag import WalHistory

# A check that takes longer than this finds the replica down: a request must not wait
# on a replica that accepts connections and then never answers.
CHECK_TIMEOUT_SECONDS = 5.0


class ReadReplica:
    def __init__(
        self,
        engine: AsyncEngine,
        primary: AsyncEngine,
        settings: Settings,
        fallbacks: Counter,
    ) -> None:
        self.engine = engine
        self.primary = primary
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        self.health = ReplicaHealth(settings.read_max_lag_seconds)
        # Long enough that a replica within the allowed lag has replayed at least one
        # kept position, whatever the time between checks.
        self.history = WalHistory(
            keep_seconds=settings.read_max_lag_seconds + 2 * settings.read_lag_check_seconds
        )
        self.fallbacks = fallbacks

    async def check(self, now: float | None = None) -> ReplicaState:
        """Measure the replica's lag once; ``now`` is a ``time.monotonic()`` reading.

        A primary that cannot be asked raises: then nothing is known of the lag, and
        the state stays as it was.
        """
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            sampled_at = time.monotonic() if now is None else now
            async with self.primary.connect() as connection:
                position = await repository.wal_position(connection)
        self.history.record(position, sampled_at)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), self.engine.connect() as connection:
                replay = await repository.replay(connection)
        except Exception as exc:
            return self.health.unreachable(exc)
        # A server out of recovery is a primary of its own (or a promoted replica):
        # whatever it holds, it holds now.
        lag = self.history.lag(replay.replayed) if replay.in_recovery else 0.0
        return self.health.measured(lag)

    async def session_for_read(self) -> AsyncSession | None:
        """A session in a read-only snapshot on the replica; None when the primary is to
        serve the read instead, which is counted.

        The connection is opened here, before anything is read: a replica that went
        down since the last check is found now (the pool pings what it hands out), while
        the request can still go to the primary.
        """
        state = self.health.state
        if state is ReplicaState.HEALTHY:
            session = self.sessionmaker()
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                    await session.connection(execution_options=READ_SNAPSHOT)
            except Exception as exc:
                await session.close()
                state = self.health.unreachable(exc)
            else:
                return session
        self.fallbacks.labels(state.value).inc()
        return None

    def failed(self, error: BaseException) -> None:
        """A read on the replica failed: if the replica went away, stop sending reads to
        it until a check finds it back."""
        if is_database_unavailable(error):
            self.health.unreachable(error)
