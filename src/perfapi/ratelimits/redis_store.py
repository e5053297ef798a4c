"""Rate limits shared by every process and replica through Redis.

One Lua script reads and writes a caller's TAT (see ``gcra.py``), so concurrent
requests through any number of processes are counted exactly once each. It takes the
time from the Redis server: the processes' clocks do not matter. A key lives only as
long as its allowance is not whole again.

Redis unreachable: requests pass unchecked (fail open): a rate limit protects the
service, and refusing everything while Redis is down would do the opposite. Each such
request is counted in ``perfapi_rate_limit_unchecked_total``; a warning is logged at
most once every WARN_EVERY_SECONDS, and Redis is left alone for PAUSE_SECONDS after a
failure, so an unreachable Redis does not cost every request a timeout.
"""

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from perfapi.ratelimits import gcra
from perfapi.ratelimits.limiter import Clock

log = logging.getLogger("perfapi.ratelimits")

TIMEOUT_SECONDS = 0.5
PAUSE_SECONDS = 1.0
WARN_EVERY_SECONDS = 60.0

# KEYS[1]: the caller's TAT in microseconds. ARGV: interval (µs), limit, and now (µs)
# or '' for the server's time. Returns {allowed, the TAT read (-1: none), now}; the
# decision's numbers are derived from these by gcra.decide, with the same arithmetic.
# Numbers are formatted with %.0f: Lua would turn 1.8e15 into "1.8e+15".
GCRA_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[3])
end
local stored = tonumber(redis.call('GET', KEYS[1]))
local start = now
if stored and stored > now then start = stored end
local new_tat = start + interval
if new_tat - interval * limit > now then
  return {0, stored or -1, now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
  'PX', math.ceil((new_tat - now) / 1000))
return {1, stored or -1, now}
"""


def connect(url: str) -> "Redis":
    """A client that fails fast: one quick retry (a pooled connection Redis closed),
    then the error, instead of the default's seconds of backoff."""
    client: Redis = Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )
    return client


class RedisLimiter:
    def __init__(
        self,
        client: "Redis",
        key_prefix: str,
        unchecked: Counter,
        *,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: tests only, instead of the Redis server's time."""
        self._client = client
        self._script = client.register_script(GCRA_SCRIPT)
        self._prefix = key_prefix + "ratelimit:"
        self._unchecked = unchecked
        self._clock = clock
        self._monotonic = monotonic
        self._paused_until = float("-inf")
        self._next_warning = float("-inf")

    async def take(self, key: str, limit: int) -> gcra.Decision | None:
        if self._monotonic() < self._paused_until:
            self._unchecked.inc()
            return None
        now = "" if self._clock is None else str(self._clock())
        try:
            _, stored, server_now = await self._script(
                keys=[self._prefix + key], args=[gcra.interval_us(limit), limit, now]
            )
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        decision, _ = gcra.decide(None if stored < 0 else int(stored), int(server_now), limit)
        return decision

    def _failed(self, exc: Exception) -> None:
        self._unchecked.inc()
        moment = self._monotonic()
        self._paused_until = moment + PAUSE_SECONDS
        if moment >= self._next_warning:
            self._next_warning = moment + WARN_EVERY_SECONDS
            log.warning(
                "Redis did not answer (%s); rate limits are not enforced until it does",
                exc,
            )

    async def aclose(self) -> None:
        await self._client.aclose()
