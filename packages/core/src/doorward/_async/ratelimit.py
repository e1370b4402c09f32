"""TEMPORARY minimal limiter (replaced by the policies branch)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from doorward.settings import RateLimit


class AsyncRateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None: ...
    async def reset(self, key: str) -> None: ...


class AsyncMemoryRateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        with self._lock:
            hits = [t for t in self._hits.get(key, []) if now - t < limit.window]
            if len(hits) >= limit.limit:
                self._hits[key] = hits
                return (hits[0] + limit.window - now).total_seconds()
            hits.append(now)
            self._hits[key] = hits
            return None

    async def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
