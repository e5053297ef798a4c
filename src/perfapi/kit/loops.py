"""The loop of a background task: a round, then a pause, until the server stops."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from perfapi.db.availability import is_database_unavailable


async def repeat_forever(
    run_round: Callable[[], Awaitable[object]],
    every_seconds: float,
    failure: str,
    log: logging.Logger,
) -> None:
    """``run_round`` now, then ``every_seconds`` after each one ends; cancelled at shutdown.

    A round that fails is logged as ``failure`` on the task's own logger (with its
    traceback, unless the database was unreachable) and the next round tries again:
    a failure never stops the task. What one org's data can break, a round isolates
    and counts itself.
    """
    while True:
        try:
            await run_round()
        except Exception as exc:
            log.warning(failure, exc_info=not is_database_unavailable(exc))
        await asyncio.sleep(every_seconds)
