# Generated from packages/store-mongo/src/doorward_mongo/_async/ratelimit.py by scripts/unasync.py. Do not edit: edit the source.
"""A rate limiter shared by every process on one MongoDB, written once:
``MongoRateLimiter`` here, ``MongoRateLimiter`` generated into ``_sync/``.

One document per key: ``{_id: sha256(key), hits, expires_at}`` (no address or IP in
clear). A window starts at a key's first counted hit. Each step is one single-document
operation, atomic on its own:

1. ``update_one({_id, expires_at > now, hits < limit}, {$inc: {hits: 1}})``
2. else ``update_one({_id, expires_at <= now}, {$set: {hits: 1, expires_at: now + window}})``
3. else read it: full, the hit is refused (the wait is ``expires_at - now``); missing, it
   is inserted, and of concurrent first hits the losers on ``_id`` start over; changed by
   a concurrent restart of the window, the hit starts over.

A TTL index on ``expires_at`` (``ensure_indexes``) removes ended windows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import MongoClient
from pymongo.synchronous.collection import Collection
from pymongo.errors import DuplicateKeyError

from doorward.exceptions import StoreUnavailable
from doorward.settings import RateLimit
from doorward.tokens import hash_secret
from doorward_mongo._documents import translated

__all__ = ["MongoRateLimiter"]

#: attempts of one hit; each retry follows another caller's progress on the same key
_ATTEMPTS = 10


class MongoRateLimiter:
    """``doorward.RateLimiter`` on a collection (``rate_limits`` by default).

    Call ``ensure_indexes()`` once at start-up; pass it to the adapter (``limiter=``) so
    every worker counts in the same documents.
    """

    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        database: str,
        *,
        collection: str = "rate_limits",
    ) -> None:
        db = client.get_database(
            database, codec_options=client.codec_options.with_options(tz_aware=True)
        )
        self.collection: Collection[dict[str, Any]] = db[collection]

    def ensure_indexes(self) -> None:
        """The TTL index that deletes ended windows; safe to run at every start."""
        with translated("rate_limit_indexes"):
            self.collection.create_index("expires_at", expireAfterSeconds=0)

    def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """See ``doorward.RateLimiter.hit``."""
        window = limit.window.total_seconds()
        if limit.limit < 1:
            return window or 1.0
        digest = hash_secret(key)
        until = now + limit.window
        with translated("rate_limit"):
            for _ in range(_ATTEMPTS):
                counted = self.collection.update_one(
                    {"_id": digest, "expires_at": {"$gt": now}, "hits": {"$lt": limit.limit}},
                    {"$inc": {"hits": 1}},
                )
                if counted.modified_count == 1:
                    return None
                restarted = self.collection.update_one(
                    {"_id": digest, "expires_at": {"$lte": now}},
                    {"$set": {"hits": 1, "expires_at": until}},
                )
                if restarted.modified_count == 1:
                    return None
                current = self.collection.find_one({"_id": digest})
                if current is None:
                    try:
                        self.collection.insert_one(
                            {"_id": digest, "hits": 1, "expires_at": until}
                        )
                    except DuplicateKeyError:
                        continue
                    return None
                expires_at: datetime = current["expires_at"]
                if expires_at > now and current["hits"] >= limit.limit:
                    return max((expires_at - now).total_seconds(), 1e-6)
        raise StoreUnavailable

    def reset(self, key: str) -> None:
        """See ``doorward.RateLimiter.reset``."""
        with translated("rate_limit_reset"):
            self.collection.delete_one({"_id": hash_secret(key)})
