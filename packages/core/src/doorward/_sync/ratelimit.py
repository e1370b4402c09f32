# Generated from packages/core/src/doorward/_async/ratelimit.py by scripts/unasync.py. Do not edit: edit the source.
"""Rate limiting: the protocol, and an in-process implementation.

The flows call ``hit(key, limit, now)`` before work worth limiting (per client address:
``login:<ip>``, ``register:<ip>``...; per address and mail kind: ``mail:<kind>:<email>``).
``MemoryRateLimiter`` counts in this process only; several processes behind one
site need a shared limiter (a store table, Redis) implementing the same two methods.
A limiter that fails raises, and the flow fails closed (FT-04).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from doorward.settings import RateLimit

__all__ = ["MemoryRateLimiter", "RateLimiter"]


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows."""

    def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """Record one hit; ``None`` if allowed, else the seconds until the key may try again."""

    def reset(self, key: str) -> None:
        """Forget the key's hits."""


class MemoryRateLimiter:
    """Fixed-window counters in a dict, thread-safe, bounded to ``max_keys`` keys."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """Count a hit in the current window of ``limit.window``."""
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= limit.window:
                start, count = now, 0
            if count >= limit.limit:
                return max((start + limit.window - now).total_seconds(), 0.001)
            if key not in self._windows and len(self._windows) >= self.max_keys:
                self._prune(now, limit)
            self._windows[key] = (start, count + 1)
            return None

    def reset(self, key: str) -> None:
        """Forget ``key``; other keys keep their counts (RL-03)."""
        with self._lock:
            self._windows.pop(key, None)

    def _prune(self, now: datetime, limit: RateLimit) -> None:
        stale = [k for k, (start, _) in self._windows.items() if now - start >= limit.window]
        for k in stale or list(self._windows)[: len(self._windows) // 10 + 1]:
            del self._windows[k]
