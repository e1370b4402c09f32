"""Blocking work from the sync face: just call it; a background job as a thread (hand-written
pair of ``_async/_io.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_IS_SYNC = True


def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` in this thread: the sync face has no event loop to protect."""
    return fn(*args, **kwargs)


def pause(seconds: float) -> None:
    """Wait ``seconds`` in this thread (nothing cuts it short)."""
    time.sleep(seconds)


class Background:
    """One background job of the sync face: a daemon thread, with a wake-up.

    ``start(fn)`` runs ``fn()`` in a new thread; the job sleeps with ``sleep``, which
    ``wake`` or ``stop`` cuts short; ``stop`` joins the thread. Twin of the async face's.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = False
        self._thread: threading.Thread | None = None
        self._event = threading.Event()

    def running(self) -> bool:
        """Whether the job was started and has not finished."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` in a daemon thread."""
        self.stopping = False
        self._thread = threading.Thread(target=fn, name=self.name, daemon=True)
        self._thread.start()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if woken or stopped."""
        if not self.stopping:
            self._event.wait(seconds)
        self._event.clear()

    def wake(self) -> None:
        """End the current ``sleep`` early."""
        self._event.set()

    def stop(self, grace: float) -> bool:
        """Ask the job to end and wait up to ``grace`` s; ``False`` if it still runs."""
        self.stopping = True
        self.wake()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(grace)
        return not thread.is_alive()
