"""A rate limiter shared by every process on one database, written once:
``AsyncSQLAlchemyRateLimiter`` here, ``SQLAlchemyRateLimiter`` generated into ``_sync/``.

One row per key: its SHA-256 (no address or IP is stored in clear), the hits counted in
the current window and the window's end. A window starts at a key's first counted hit.
Each hit is one short transaction of single-row statements, each atomic on its own:

1. ``UPDATE ... SET hits = hits + 1 WHERE key = ? AND expires_at > now AND hits < limit``
2. else ``UPDATE ... SET hits = 1, expires_at = now + window WHERE key = ? AND expires_at <= now``
3. else read the row: full, it refuses (the wait is ``expires_at - now``); missing, it is
   ``INSERT``ed, and of concurrent first hits the losers on the primary key start over;
   changed since step 2 by a concurrent restart of the window, the hit starts over.

So concurrent hits from any number of workers add up exactly, and refused hits are not
counted. Expired rows are deleted every ``purge_every`` hits (and by ``purge``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from doorward.exceptions import StoreUnavailable
from doorward.settings import RateLimit
from doorward.tokens import hash_secret
from doorward_sqlalchemy._async.unit import bound_to
from doorward_sqlalchemy._errors import translated
from doorward_sqlalchemy.models import DefaultRateLimit

__all__ = ["AsyncSQLAlchemyRateLimiter"]

#: attempts of one hit; each retry follows another caller's progress on the same key
_ATTEMPTS = 10


#: what the databases answer when they chose this transaction as a deadlock's victim
_DEADLOCK_SQLSTATES = frozenset({"40001", "40P01"})
_DEADLOCK_ERRNOS = frozenset({1213})


class _Retry(Exception):
    """A concurrent caller changed the row between two statements of this attempt."""


def lost_to_a_concurrent_hit(exc: DBAPIError) -> bool:
    """Whether the database refused this attempt only because of a concurrent one.

    A duplicate key (concurrent first hits) or a deadlock victim (InnoDB's gap locks when
    several first hits meet) means: start over.
    """
    if isinstance(exc, IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _DEADLOCK_SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in _DEADLOCK_ERRNOS


class AsyncSQLAlchemyRateLimiter:
    """``doorward.AsyncRateLimiter`` on a table (``RateLimitMixin``; ``rate_limits`` by default).

    Pass it to the adapter (``limiter=``) so every worker counts in the same rows. On
    SQLite, a hit inside a store's ``transaction()`` on the same engine runs in it (a
    savepoint): the block holds the database's write lock, which a hit on another
    connection would wait for until the busy timeout.
    """

    def __init__(
        self, engine: AsyncEngine, model: type[Any] = DefaultRateLimit, *, purge_every: int = 1000
    ) -> None:
        if purge_every < 1:
            raise ValueError("purge_every must be positive.")
        self.engine = engine
        self._joins = engine.dialect.name == "sqlite"
        self.purge_every = purge_every
        self._since_purge = 0
        key, hits, expires = model.key, model.hits, model.expires_at
        this = key == bindparam("rl_key")
        self._count = (
            update(model)
            .where(this, expires > bindparam("rl_now"), hits < bindparam("rl_limit"))
            .values({hits: hits + 1})
        )
        self._restart = (
            update(model)
            .where(this, expires <= bindparam("rl_now"))
            .values({hits: 1, expires: bindparam("rl_until")})
        )
        self._current = select(expires, hits).where(this)
        self._insert = insert(model).values(
            {key: bindparam("rl_key"), hits: 1, expires: bindparam("rl_until")}
        )
        self._reset = delete(model).where(this)
        self._purge = delete(model).where(expires <= bindparam("rl_now"))

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        """See ``doorward.AsyncRateLimiter.hit``."""
        window = limit.window.total_seconds()
        if limit.limit < 1:
            return window or 1.0
        params = {
            "rl_key": hash_secret(key),
            "rl_now": now,
            "rl_limit": limit.limit,
            "rl_until": now + limit.window,
        }
        with translated("rate_limit"):
            for _ in range(_ATTEMPTS):
                try:
                    wait = await self._attempt(params, now, limit.limit)
                except _Retry:
                    continue
                except DBAPIError as exc:
                    if lost_to_a_concurrent_hit(exc):
                        continue
                    raise
                if wait is None:
                    await self._purge_now_and_then(now)
                return wait
        raise StoreUnavailable

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        bound = bound_to(self.engine) if self._joins else None
        if bound is None:
            async with self.engine.begin() as connection:
                yield connection
            return
        async with bound.begin_nested():
            yield await bound.connection()

    async def _attempt(self, params: dict[str, Any], now: datetime, limit: int) -> float | None:
        async with self._begin() as connection:
            if (await connection.execute(self._count, params)).rowcount == 1:
                return None
            if (await connection.execute(self._restart, params)).rowcount == 1:
                return None
            row = (await connection.execute(self._current, params)).first()
            if row is None:
                await connection.execute(self._insert, params)
                return None
            expires_at: datetime = row[0]
            if expires_at > now and row[1] >= limit:
                return max((expires_at - now).total_seconds(), 1e-6)
            raise _Retry

    async def reset(self, key: str) -> None:
        """See ``doorward.AsyncRateLimiter.reset``."""
        with translated("rate_limit_reset"):
            async with self._begin() as connection:
                await connection.execute(self._reset, {"rl_key": hash_secret(key)})

    async def purge(self, now: datetime) -> int:
        """Delete the rows whose window has ended; return how many."""
        with translated("rate_limit_purge"):
            async with self._begin() as connection:
                result = await connection.execute(self._purge, {"rl_now": now})
        return int(result.rowcount)

    async def _purge_now_and_then(self, now: datetime) -> None:
        self._since_purge += 1
        if self._since_purge >= self.purge_every:
            self._since_purge = 0
            await self.purge(now)
