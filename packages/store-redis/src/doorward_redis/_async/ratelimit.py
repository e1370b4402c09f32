"""A rate limiter shared by every process on one Redis, written once:
``AsyncRedisRateLimiter`` here, ``RedisRateLimiter`` generated into ``_sync/``.

One sorted set per key, named ``prefix + sha256(key)`` (no address or IP in clear): a
sliding-window log, like ``doorward.AsyncMemoryRateLimiter``, whose members are the
counted hits scored by their time. Each hit is one Lua script (``EVALSHA``), so one round
trip that Redis runs atomically:

1. drop the hits at or before ``now - window``;
2. with ``limit`` hits or more left, refuse and answer the time of the hit whose expiry
   frees a place (the wait is that time ``+ window - now``);
3. else add this hit and set the key to expire ``window`` after it.

So concurrent hits from any number of workers add up exactly, refused hits are not
counted, and Redis forgets a key once it has been idle for a whole window. The time is
the ``now`` passed in, never Redis's clock; the expiry runs on Redis's clock, which only
matters if the two disagree by more than a window.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from doorward.settings import RateLimit
from doorward.tokens import hash_secret
from doorward_redis._errors import translated
from doorward_redis._script import HIT

__all__ = ["AsyncRedisRateLimiter"]


class AsyncRedisRateLimiter:
    """``doorward.AsyncRateLimiter`` on Redis (``redis.asyncio.Redis``).

    Pass it to the adapter (``limiter=``) so every worker counts in the same keys. Keys
    are ``prefix`` followed by the SHA-256 hex of the limiter key. Give the client
    timeouts (``socket_timeout``, ``socket_connect_timeout``): a Redis that does not
    answer then makes hits fail closed with ``StoreUnavailable`` instead of hanging.
    """

    def __init__(self, client: Redis, *, prefix: str = "doorward:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._hit: AsyncScript = client.register_script(HIT)

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """See ``doorward.AsyncRateLimiter.hit``."""
        window = limit.window.total_seconds()
        if limit.limit < 1:
            return window or 1.0
        moment = now.timestamp()
        args = (
            limit.limit,
            repr(moment),
            repr(moment - window),
            max(math.ceil(window * 1000), 1),
            secrets.token_hex(8),
        )
        with translated("rate_limit"):
            blocking = await self._hit(keys=[self.prefix + hash_secret(key)], args=args)
        if blocking is None:
            return None
        return max(float(blocking) + window - moment, 1e-6)

    async def reset(self, key: str) -> None:
        """See ``doorward.AsyncRateLimiter.reset``."""
        with translated("rate_limit_reset"):
            await self.client.delete(self.prefix + hash_secret(key))
