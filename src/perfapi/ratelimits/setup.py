"""The app's limiter, chosen by settings: Redis when ``redis_url`` is set, else this
process."""

from redis.asyncio import Redis

from perfapi.config import Settings
from perfapi.ops.metrics import RateLimitMetrics
from perfapi.ratelimits.limiter import Limiter, LocalLimiter
from perfapi.ratelimits.redis_store import RedisLimiter, connect


def open_limiter(settings: Settings, metrics: RateLimitMetrics) -> tuple[Redis | None, Limiter]:
    """The Redis client (None without one) and the limiter; ``aclose`` the limiter at
    shutdown, which closes the client."""
    if not settings.redis_url:
        return None, LocalLimiter()
    client = connect(settings.redis_url)
    return client, RedisLimiter(client, settings.redis_key_prefix, metrics.unchecked)
