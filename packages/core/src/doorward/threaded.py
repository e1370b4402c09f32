"""Use a sync store from async code: every call runs in a worker thread.

    store = AsyncThreadedStore(SQLAlchemyStore(engine, models))   # for AsyncAuth
    limiter = AsyncThreadedRateLimiter(SQLAlchemyRateLimiter(engine))

Write a store once, in the face its driver has; this wrapper gives it the other face
without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any, TypeVar

from doorward._sync.ratelimit import RateLimiter
from doorward.settings import RateLimit

__all__ = ["AsyncThreadedRateLimiter", "AsyncThreadedStore"]

T = TypeVar("T")


async def _in_thread(
    executor: Executor | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


#: Store methods that only describe the store (no I/O): passed through as they are.
_METADATA = frozenset({"required_fields"})
#: Not offered: a store's ``transaction()`` binds the calling thread, and here each method
#: runs in a pool thread of its own; without it a flow's mail follows its change (DI-02).
_NOT_OFFERED = frozenset({"transaction"})


class AsyncThreadedStore:
    """The async face of a sync store: each of its methods, run in a worker thread.

    It has exactly the methods the wrapped store has, so the capabilities it offers
    (users, roles, credentials, ...) are the wrapped store's; all but ``transaction()``.
    """

    def __init__(self, store: Any, executor: Executor | None = None) -> None:
        self.store = store
        self.executor = executor

    def __getattr__(self, name: str) -> Callable[..., Any]:
        offered = not name.startswith("_") and name not in _NOT_OFFERED
        method = getattr(self.store, name) if offered else None
        if not callable(method):
            raise AttributeError(name)  # noqa: TRY004 (__getattr__ must raise AttributeError)
        if name in _METADATA:
            described: Callable[..., Any] = method
            return described
        executor = self.executor

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await _in_thread(executor, method, *args, **kwargs)

        in_thread.__name__ = in_thread.__qualname__ = name
        self.__dict__[name] = in_thread
        return in_thread


class AsyncThreadedRateLimiter:
    """The async face of a sync ``RateLimiter`` (a shared one on SQLite, for instance)."""

    def __init__(self, limiter: RateLimiter, executor: Executor | None = None) -> None:
        self.limiter = limiter
        self.executor = executor

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        return await _in_thread(self.executor, self.limiter.hit, key, limit, now)

    async def reset(self, key: str) -> None:
        await _in_thread(self.executor, self.limiter.reset, key)
