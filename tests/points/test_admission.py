"""Admission of large JSON bodies, on its own: which requests need a slot, and slots kept
exact when waiting requests go away."""

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest
from starlette.datastructures import Headers

from perfapi.points.admission import Admission


def admission(slots: int = 1) -> Admission:
    return Admission(slots=slots, large_above=1000, json_limit=5000)


async def yield_until(condition: Callable[[], bool], turns: int = 100) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition did not come true")


async def all_slots_free(gate: Admission) -> None:
    """Every slot can be taken at once, without waiting."""
    async with AsyncExitStack() as stack:
        for _ in range(gate.slots):
            await stack.enter_async_context(gate.slot())
        assert (gate.admitted, gate.waiting) == (gate.slots, 0)
    assert (gate.admitted, gate.waiting) == (0, 0)


@pytest.mark.parametrize(
    ("headers", "needed"),
    [
        pytest.param({"content-type": "application/json", "content-length": "1000"}, False),
        pytest.param({"content-type": "application/json", "content-length": "1001"}, True),
        pytest.param({"content-type": "application/json", "content-length": "5000"}, True),
        pytest.param({"content-type": "Application/JSON; charset=utf-8"}, True, id="no-length"),
        pytest.param(
            {"content-type": "application/json", "content-length": "5001"},
            False,
            id="past-the-limit-is-refused-unread",
        ),
        pytest.param({"content-type": "application/x-ndjson"}, False, id="ndjson-streams"),
        pytest.param({"content-type": "text/csv", "content-length": "4000"}, False, id="csv"),
        pytest.param({}, False, id="no-content-type"),
    ],
)
def test_which_requests_need_a_slot(headers: dict[str, str], needed: bool) -> None:
    assert admission().needs_slot(Headers(headers)) is needed


async def test_waiting_request_proceeds_when_the_slot_is_free() -> None:
    gate = admission()
    entered: list[str] = []

    async def request(name: str) -> None:
        async with gate.slot():
            entered.append(name)

    async with gate.slot():
        second = asyncio.create_task(request("second"))
        await yield_until(lambda: gate.waiting == 1)
        assert entered == []
    await second
    assert entered == ["second"]
    await all_slots_free(gate)


async def test_cancelled_waiter_takes_no_slot() -> None:
    gate = admission()
    async with gate.slot():
        waiter = asyncio.create_task(gate.slot().__aenter__())
        await yield_until(lambda: gate.waiting == 1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (gate.admitted, gate.waiting) == (1, 0)
    await all_slots_free(gate)


async def test_taking_every_slot_waits_for_the_others_and_gives_them_back() -> None:
    gate = admission(slots=2)
    events: list[str] = []

    async def alone() -> None:
        async with gate.slot() as ticket, ticket.alone():
            events.append("alone")
        events.append("released")

    async with gate.slot():
        task = asyncio.create_task(alone())
        await yield_until(lambda: gate.waiting == 1 and gate.admitted == 2)
        events.append("other ends")
    await task
    assert events == ["other ends", "alone", "released"]
    await all_slots_free(gate)


async def test_cancelled_while_taking_every_slot_gives_back_what_it_held() -> None:
    gate = admission(slots=3)
    async with gate.slot():

        async def alone() -> None:
            async with gate.slot() as ticket, ticket.alone():
                raise AssertionError("never alone while the other holds its slot")

        task = asyncio.create_task(alone())
        await yield_until(lambda: gate.waiting == 1 and gate.admitted == 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (gate.admitted, gate.waiting) == (1, 0)
    await all_slots_free(gate)
