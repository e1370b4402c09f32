"""Use a sync store from async code: every call runs in a worker thread.

    store = AsyncThreadedStore(SQLAlchemyStore(engine, models))   # for AsyncAuth
    limiter = AsyncThreadedRateLimiter(SQLAlchemyRateLimiter(engine))

Write a store once, in the face its driver has; this wrapper gives it the other face
without blocking the event loop. The calls run in doorward's own daemon threads (as many
as asyncio's default executor would have), or in ``executor`` when one is given.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any, TypeVar

from doorward._sync.ratelimit import RateLimiter
from doorward.settings import RateLimit

__all__ = ["AsyncThreadedRateLimiter", "AsyncThreadedStore"]

T = TypeVar("T")


class _Workers:
    """Daemon threads that run store calls for any event loop and hand each result back
    with one ``call_soon_threadsafe``.

    What ``loop.run_in_executor`` does for a call, with less on the way: no
    ``concurrent.futures.Future`` chained to an asyncio one, no work item, no executor
    lock. A call is the hot path of every authenticated Starlette request on a threaded
    store (about 60 µs less per request, ``bench/run.py``). Threads start when no idle one
    is there, up to the default executor's number; a forked child starts its own.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._jobs: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._pending = 0

    def submit(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], args: Any, kwargs: Any
    ) -> asyncio.Future[Any]:
        future = loop.create_future()
        with self._lock:
            self._pending += 1
        self._jobs.put((loop, future, fn, args, kwargs))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if self._threads < self.limit:
                    self._threads += 1
                    threading.Thread(
                        target=self._work, name=f"doorward-store_{self._threads}", daemon=True
                    ).start()
        return future

    def _work(self) -> None:
        while True:
            loop, future, fn, args, kwargs = self._jobs.get()
            error: BaseException | None = None
            result = None
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (handed to the awaiting task, as an executor does)
                error = exc
            with self._lock:
                self._pending -= 1
            # idle before the answer wakes the loop, so the loop's next call finds this
            # thread (warm) instead of starting another
            self._idle.release()
            _hand_back(loop, future, result, error)
            del loop, future, fn, args, kwargs, result, error

    def drain(self, timeout: float) -> None:
        """Wait until no call is running or queued (at exit: a write under way ends)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
        loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if isinstance(exc, StopIteration):  # a Future refuses it (as asyncio converts it)
        future.set_exception(RuntimeError(repr(exc)))
    elif exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _new_workers() -> _Workers:
    return _Workers(min(32, (os.cpu_count() or 1) + 4))


_workers = _new_workers()


def _after_fork() -> None:
    global _workers  # noqa: PLW0603 (the child's threads are not its parent's)
    _workers = _new_workers()


os.register_at_fork(after_in_child=_after_fork)
# daemon threads stop dead at exit; as an executor's are joined, let running calls end
atexit.register(lambda: _workers.drain(timeout=10))


async def _in_thread(
    executor: Executor | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    loop = asyncio.get_running_loop()
    if executor is None:
        found: T = await _workers.submit(loop, fn, args, kwargs)
        return found
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
        """``executor``: run the calls there instead of in doorward's own worker threads."""
        self.store = store
        self.executor = executor
        #: store calls made so far, each one thread hop (``bench/run.py`` prints them)
        self.calls = 0

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
            self.calls += 1
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
