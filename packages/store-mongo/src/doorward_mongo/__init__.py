"""MongoDB stores for doorward, over pymongo's sync and async clients."""

from doorward_mongo._async.store import AsyncMongoStore
from doorward_mongo._documents import Collections, MongoUser
from doorward_mongo._sync.store import MongoStore

__all__ = ["AsyncMongoStore", "Collections", "MongoStore", "MongoUser"]
