"""MongoDB stores for doorward, over pymongo's sync and async clients."""

from doorward_mongo._async.ratelimit import AsyncMongoRateLimiter
from doorward_mongo._async.store import AsyncMongoStore
from doorward_mongo._documents import Collections, MongoUser
from doorward_mongo._sync.ratelimit import MongoRateLimiter
from doorward_mongo._sync.store import MongoStore

__all__ = [
    "AsyncMongoRateLimiter",
    "AsyncMongoStore",
    "Collections",
    "MongoRateLimiter",
    "MongoStore",
    "MongoUser",
]
