"""Blocking work from the async face: run it in a worker thread; a background job as a task
(hand-written pair)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_IS_SYNC = False


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` in the default executor so the event loop never blocks on it."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def pause(seconds: float) -> None:
    """Wait ``seconds`` without blocking the loop (nothing cuts it short)."""
    await asyncio.sleep(seconds)


class Background:
    """One background job of the async face: a task on the running loop, with a wake-up.

    ``start(fn)`` (inside the loop) runs ``fn()`` as a task; the job sleeps with ``sleep``,
    which ``wake`` (from the loop) or ``stop`` cuts short; ``join`` awaits the task.
    The sync face (``_sync/_io.py``) does the same with a daemon thread.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = False
        self._task: asyncio.Task[None] | None = None
        self._event: asyncio.Event | None = None

    def running(self) -> bool:
        """Whether the job was started and has not finished."""
        return self._task is not None and not self._task.done()

    def start(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn()`` as a task of the running loop (``RuntimeError`` outside one).

        The task starts from an empty context, as a thread does, not from the caller's: a
        request's open store transaction (``change_and_mail``) must not follow it.
        """
        self.stopping = False
        self._task = asyncio.get_running_loop().create_task(
            _as_coroutine(fn), name=self.name, context=contextvars.Context()
        )

    def _wake_event(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if woken or stopped."""
        event = self._wake_event()
        if not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    def wake(self) -> None:
        """End the current ``sleep`` early."""
        self._wake_event().set()

    async def stop(self, grace: float) -> bool:
        """Ask the job to end, wait up to ``grace`` s; ``False`` if it had to be cancelled."""
        self.stopping = True
        self.wake()
        task = self._task
        if task is None or task.done():
            return True
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
            return False
        return True


async def _as_coroutine(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()
