"""Rate limiting by key (client address, account...): the protocol and an in-memory limiter.

A limiter answers one question per request: may this key make one more request now,
and if not, how long must it wait? Keys are namespaced by the caller
(``"forgot_password:203.0.113.7"``); each flow keeps its own buckets, so clearing one
key, e.g. an account's after a successful login, leaves every other key as it was (RL-03).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime
from typing import Protocol

from doorward.settings import RateLimit

__all__ = ["AsyncMemoryRateLimiter", "AsyncRateLimiter"]


class AsyncRateLimiter(Protocol):
    """Counts hits per key in a sliding window.

    An implementation shared by several processes (Redis, a database table) must make
    ``hit`` one atomic operation, so that hits from every process add up exactly. When
    its backend fails it raises ``doorward.exceptions.StoreUnavailable`` (fail closed)
    rather than letting the request through silently (FT-04).
    """

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """Record one hit on ``key`` at ``now`` if ``limit`` allows it.

        Return ``None`` when the hit is allowed (and counted), else the seconds until
        one more hit will be allowed (> 0). A refused hit is not counted.
        """
        ...

    async def reset(self, key: str) -> None:
        """Forget every hit on ``key``; other keys are unchanged."""
        ...


class _Bucket:
    """The times of the hits on one key that are still inside its window."""

    __slots__ = ("hits", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.hits: deque[float] = deque()

    def expire(self, now: float) -> None:
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()


class AsyncMemoryRateLimiter:
    """A sliding-window-log limiter in this process's memory.

    Exact (a hit at ``t`` stops counting at ``t + window``), thread-safe (one lock, held
    for a few dictionary operations, never across an ``await``), and bounded: a bucket
    holds at most ``limit`` times, empty buckets are dropped every ``sweep_every`` hits,
    and beyond ``max_keys`` keys the least recently hit key is forgotten. Each process
    counts on its own, so behind several workers the effective limit is multiplied by
    their number; use a shared implementation of ``AsyncRateLimiter`` where that matters.
    """

    def __init__(self, *, max_keys: int = 100_000, sweep_every: int = 1_000) -> None:
        if max_keys < 1 or sweep_every < 1:
            raise ValueError("max_keys and sweep_every must be positive.")
        self._max_keys = max_keys
        self._sweep_every = sweep_every
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._hits_since_sweep = 0

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """See ``AsyncRateLimiter.hit``."""
        moment = now.timestamp()
        window = limit.window.total_seconds()
        with self._lock:
            self._hits_since_sweep += 1
            if self._hits_since_sweep >= self._sweep_every:
                self._sweep(moment)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(window)
                while len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                bucket.window = window
            bucket.expire(moment)
            if len(bucket.hits) >= limit.limit:
                if not bucket.hits:
                    return window or 1.0
                return max(bucket.hits[0] + window - moment, 1e-6)
            bucket.hits.append(moment)
            return None

    async def reset(self, key: str) -> None:
        """See ``AsyncRateLimiter.reset``."""
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        """How many keys are tracked (for tests and monitoring)."""
        with self._lock:
            return len(self._buckets)

    def _sweep(self, moment: float) -> None:
        self._hits_since_sweep = 0
        for key in list(self._buckets):
            bucket = self._buckets[key]
            bucket.expire(moment)
            if not bucket.hits:
                del self._buckets[key]
