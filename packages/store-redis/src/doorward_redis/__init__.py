"""Rate limiters for doorward on Redis, over redis-py's sync and async clients."""

from doorward_redis._async.ratelimit import AsyncRedisRateLimiter
from doorward_redis._sync.ratelimit import RedisRateLimiter

__all__ = ["AsyncRedisRateLimiter", "RedisRateLimiter"]
