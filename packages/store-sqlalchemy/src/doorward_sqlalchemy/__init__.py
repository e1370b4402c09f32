"""SQLAlchemy stores for doorward, on the application's own models."""

from doorward_sqlalchemy._async.ratelimit import AsyncSQLAlchemyRateLimiter
from doorward_sqlalchemy._async.store import AsyncSQLAlchemyStore
from doorward_sqlalchemy._sync.ratelimit import SQLAlchemyRateLimiter
from doorward_sqlalchemy._sync.store import SQLAlchemyStore
from doorward_sqlalchemy.engines import async_sqlite_engine, sqlite_engine
from doorward_sqlalchemy.models import (
    CredentialMixin,
    Models,
    RateLimitMixin,
    RoleMixin,
    UserMixin,
    UserRoleMixin,
    UTCDateTime,
    default_models,
)

__all__ = [
    "AsyncSQLAlchemyRateLimiter",
    "AsyncSQLAlchemyStore",
    "CredentialMixin",
    "Models",
    "RateLimitMixin",
    "RoleMixin",
    "SQLAlchemyRateLimiter",
    "SQLAlchemyStore",
    "UTCDateTime",
    "UserMixin",
    "UserRoleMixin",
    "async_sqlite_engine",
    "default_models",
    "sqlite_engine",
]
