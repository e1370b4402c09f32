# Generated from packages/core/src/doorward/_async/ratelimit.py by scripts/unasync.py. Do not edit: edit the source.
"""TEMPORARY minimal limiter (replaced by the policies branch)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from doorward.settings import RateLimit


class RateLimiter(Protocol):
    def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None: ...
    def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        with self._lock:
            hits = [t for t in self._hits.get(key, []) if now - t < limit.window]
            if len(hits) >= limit.limit:
                self._hits[key] = hits
                return (hits[0] + limit.window - now).total_seconds()
            hits.append(now)
            self._hits[key] = hits
            return None

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
