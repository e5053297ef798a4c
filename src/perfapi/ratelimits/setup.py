"""The app's limiter, chosen by settings: Redis when ``redis_url`` is set, else this
process."""

from perfapi.config import Settings
from perfapi.ops.metrics import RateLimitMetrics
from perfapi.ratelimits.limiter import Limiter, LocalLimiter
from perfapi.ratelimits.redis_store import RedisLimiter, connect


def open_limiter(settings: Settings, metrics: RateLimitMetrics) -> Limiter:
    """The limiter (on Redis when configured); ``aclose`` it at shutdown, which closes
    its Redis client."""
    if not settings.redis_url:
        return LocalLimiter()
    return RedisLimiter(connect(settings.redis_url), settings.redis_key_prefix, metrics.unchecked)
