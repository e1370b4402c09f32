"""SQLAlchemy stores for doorward, on the application's own models.

The sync face (``SQLAlchemyStore``, ``SQLAlchemyRateLimiter``, ``sqlite_engine``) needs
only SQLAlchemy. The async names (``AsyncSQLAlchemyStore``, ``AsyncSQLAlchemyRateLimiter``,
``async_sqlite_engine``) are imported on first use (PEP 562): they need SQLAlchemy's
asyncio support, ``pip install "doorward-sqlalchemy[asyncio]"``, and name that command in
their ``ImportError`` when it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from doorward_sqlalchemy._asyncio import require_asyncio
from doorward_sqlalchemy._sync.ratelimit import SQLAlchemyRateLimiter
from doorward_sqlalchemy._sync.store import SQLAlchemyStore
from doorward_sqlalchemy.engines import sqlite_engine
from doorward_sqlalchemy.models import (
    AuthenticatorMixin,
    CredentialMixin,
    Models,
    OutboxMixin,
    RateLimitMixin,
    RefreshTokenMixin,
    RoleMixin,
    SignInCodeMixin,
    SocialIdentityMixin,
    UserMixin,
    UserRoleMixin,
    UTCDateTime,
    default_models,
)

if TYPE_CHECKING:
    # The one exception to the workspace's no-TYPE_CHECKING rule: type checkers see the
    # async names as the real classes while the runtime imports them lazily (__getattr__),
    # because importing them needs greenlet, an optional extra.
    from doorward_sqlalchemy._async.ratelimit import AsyncSQLAlchemyRateLimiter
    from doorward_sqlalchemy._async.store import AsyncSQLAlchemyStore
    from doorward_sqlalchemy.engines import async_sqlite_engine

__all__ = [
    "AsyncSQLAlchemyRateLimiter",
    "AsyncSQLAlchemyStore",
    "AuthenticatorMixin",
    "CredentialMixin",
    "Models",
    "OutboxMixin",
    "RateLimitMixin",
    "RefreshTokenMixin",
    "RoleMixin",
    "SQLAlchemyRateLimiter",
    "SQLAlchemyStore",
    "SignInCodeMixin",
    "SocialIdentityMixin",
    "UTCDateTime",
    "UserMixin",
    "UserRoleMixin",
    "async_sqlite_engine",
    "default_models",
    "sqlite_engine",
]

#: the async names and the modules that define them, imported on first access
_LAZY = {
    "AsyncSQLAlchemyRateLimiter": "doorward_sqlalchemy._async.ratelimit",
    "AsyncSQLAlchemyStore": "doorward_sqlalchemy._async.store",
    "async_sqlite_engine": "doorward_sqlalchemy.engines",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_asyncio()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
