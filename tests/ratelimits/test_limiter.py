"""The limiter's arithmetic (GCRA) with an injected clock, the same for both stores: in
this process, and the Lua script in a real Redis. Then Redis on its own clock, its keys,
and what happens when Redis does not answer."""

import logging
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import CollectorRegistry

from perfapi.ops.metrics import RateLimitMetrics
from perfapi.ratelimits import gcra
from perfapi.ratelimits.limiter import Clock, Limiter, LocalLimiter
from perfapi.ratelimits.redis_store import (
    PAUSE_SECONDS,
    WARN_EVERY_SECONDS,
    RedisLimiter,
    connect,
)
from tests.cli.processes import free_port
from tests.ratelimits.conftest import RedisSpace

SECOND = 1_000_000
# Microseconds since the epoch around 2027: large enough that Lua printing them as
# "1.8e+15" would lose the state; an odd start, so nothing lines up by accident.
START = 1_800_000_000 * SECOND + 123_457


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * SECOND)


MakeLimiter = Callable[[Clock], Limiter]


@pytest.fixture(params=["local", "redis"])
def redis_or_none(request: pytest.FixtureRequest) -> RedisSpace | None:
    """Which store a test runs on: None for this process, else a Redis space."""
    if request.param == "local":
        return None
    space: RedisSpace = request.getfixturevalue("redis_space")
    return space


@pytest.fixture
async def make_limiter(redis_or_none: RedisSpace | None) -> AsyncIterator[MakeLimiter]:
    made: list[Limiter] = []

    def make(clock: Clock) -> Limiter:
        if redis_or_none is None:
            return LocalLimiter(clock)
        unchecked = RateLimitMetrics(CollectorRegistry()).unchecked
        client = connect(redis_or_none.url)
        limiter = RedisLimiter(client, redis_or_none.prefix, unchecked, clock=clock)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


async def take(limiter: Limiter, key: str, limit: int) -> gcra.Decision:
    decision = await limiter.take(key, limit)
    assert decision is not None
    return decision


async def test_a_burst_of_the_whole_allowance_then_retry_after(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(FakeClock())
    burst = [await take(limiter, "k", 3) for _ in range(3)]
    assert [d.allowed for d in burst] == [True] * 3
    assert [d.remaining for d in burst] == [2, 1, 0]
    # t: until the allowance is whole (20 s a request); with none left, until the next.
    assert [d.reset_seconds for d in burst] == [20, 40, 20]

    refused = await take(limiter, "k", 3)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.wait_us == 20 * SECOND
    assert refused.retry_after_seconds == 20
    assert refused.reset_seconds == 20


async def test_the_allowance_refills_smoothly(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(3):
        assert (await take(limiter, "k", 3)).allowed

    clock.advance(19.999)
    early = await take(limiter, "k", 3)
    assert not early.allowed
    assert early.wait_us == 1_000
    assert early.retry_after_seconds == 1  # never 0: "retry now" would be a lie

    clock.advance(0.001)
    on_time = await take(limiter, "k", 3)
    assert (on_time.allowed, on_time.remaining) == (True, 0)
    assert not (await take(limiter, "k", 3)).allowed

    # Refused requests cost nothing: a minute after the last one passed, all is back.
    clock.advance(60)
    assert [(await take(limiter, "k", 3)).remaining for _ in range(3)] == [2, 1, 0]


async def test_refused_requests_do_not_push_the_wait_out(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    assert (await take(limiter, "k", 1)).allowed
    waits = []
    for _ in range(5):
        waits.append((await take(limiter, "k", 1)).wait_us)
        clock.advance(10)
    assert waits == [60 * SECOND, 50 * SECOND, 40 * SECOND, 30 * SECOND, 20 * SECOND]


async def test_callers_are_counted_apart(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(FakeClock())
    assert (await take(limiter, "a", 1)).allowed
    assert not (await take(limiter, "a", 1)).allowed
    other = await take(limiter, "b", 1)
    assert (other.allowed, other.remaining) == (True, 0)


@pytest.mark.parametrize("limit", [1, 7, 59, 600])
async def test_a_burst_is_exactly_the_limit(make_limiter: MakeLimiter, limit: int) -> None:
    """Also when a minute does not divide into whole microseconds per request."""
    limiter = make_limiter(FakeClock())
    outcomes = [(await take(limiter, "k", limit)).allowed for _ in range(limit + 1)]
    assert outcomes == [True] * limit + [False]


async def test_a_changed_limit_keeps_the_share_used(make_limiter: MakeLimiter) -> None:
    """The state is time owed, so a key that used its whole minute at 2 a minute has
    used it at 60 a minute as well, and gets requests back at the new pace."""
    clock = FakeClock()
    limiter = make_limiter(clock)
    assert [(await take(limiter, "k", 2)).allowed for _ in range(3)] == [True, True, False]
    assert not (await take(limiter, "k", 60)).allowed
    clock.advance(1)
    raised = await take(limiter, "k", 60)
    assert (raised.allowed, raised.remaining) == (True, 0)


def test_the_header_numbers_round_up() -> None:
    decision, _ = gcra.decide(None, START, 120)
    assert (decision.remaining, decision.reset_us, decision.reset_seconds) == (119, 500_000, 1)
    refused = gcra.Decision(False, 120, 0, wait_us=1, reset_us=60 * SECOND)
    assert (refused.retry_after_seconds, refused.reset_seconds) == (1, 1)


async def test_redis_counts_on_its_own_clock_with_expiring_keys(redis_space: RedisSpace) -> None:
    unchecked = RateLimitMetrics(CollectorRegistry()).unchecked
    limiter = RedisLimiter(connect(redis_space.url), redis_space.prefix, unchecked)
    try:
        outcomes = [await limiter.take("caller:x", 2) for _ in range(3)]
    finally:
        await limiter.aclose()
    assert [d is not None and d.allowed for d in outcomes] == [True, True, False]
    refused = outcomes[2]
    assert refused is not None
    assert 25 <= refused.retry_after_seconds <= 30
    key = redis_space.prefix + "ratelimit:caller:x"
    assert await redis_space.keys() == [key]
    # The key lives as long as its allowance is not whole again: about a minute here.
    assert 55_000 <= await redis_space.client.pttl(key) <= 60_000
    assert unchecked._value.get() == 0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_unreachable_redis_lets_requests_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail open: no decision (the request passes), each counted, a warning at most
    once a minute; Redis is tried again after a pause."""
    unchecked = RateLimitMetrics(CollectorRegistry()).unchecked
    moment = FakeMonotonic()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    limiter = RedisLimiter(connect(closed), "perfapi-test:", unchecked, monotonic=moment)
    caplog.set_level(logging.WARNING, logger="perfapi.ratelimits")
    try:
        assert await limiter.take("k", 1) is None
        assert await limiter.take("k", 1) is None  # paused: Redis is not asked
        moment.now += PAUSE_SECONDS
        assert await limiter.take("k", 1) is None  # asked again, still down
        warnings = [r for r in caplog.records if r.name == "perfapi.ratelimits"]
        assert len(warnings) == 1
        assert "not enforced" in warnings[0].getMessage()
        moment.now += WARN_EVERY_SECONDS
        assert await limiter.take("k", 1) is None
    finally:
        await limiter.aclose()
    assert len([r for r in caplog.records if r.name == "perfapi.ratelimits"]) == 2
    assert unchecked._value.get() == 4
