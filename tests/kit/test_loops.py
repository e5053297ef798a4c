"""The loop every background task runs in: a failed round never ends it."""

import asyncio
import contextlib
import logging

import pytest

from perfapi.kit.loops import repeat_forever

LOG = logging.getLogger("perfapi.tests.loops")


async def test_a_failed_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOG.name)
    rounds = 0
    third = asyncio.Event()

    async def run_round() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("a bug")
        if rounds == 2:
            raise OSError("connection refused")  # the database is unreachable
        third.set()

    task = asyncio.create_task(repeat_forever(run_round, 0, "the round failed", LOG))
    await asyncio.wait_for(third.wait(), timeout=10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert task.cancelled()
    failures = [record for record in caplog.records if record.name == LOG.name]
    assert [record.getMessage() for record in failures] == ["the round failed"] * 2
    assert failures[0].exc_info is not None  # a surprise: logged with its traceback
    assert not failures[1].exc_info  # an unreachable database: the line says enough
