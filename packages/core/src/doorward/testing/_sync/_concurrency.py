"""Start n calls at the same instant on the sync face: threads behind a barrier (hand-written pair).

The contract's race tests call ``run_concurrently``; ``_async/_concurrency.py`` does the
same with tasks. Both return, in call order, each call's result or the exception it
raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: seconds before a call that never finishes fails the test instead of hanging it
TIMEOUT = 30.0


def run_concurrently(fn: Callable[[int], T], n: int) -> list[T | BaseException]:
    """Run ``fn(0)`` ... ``fn(n - 1)`` in threads released together; return results or errors."""
    barrier = threading.Barrier(n)
    results: dict[int, T | BaseException] = {}

    def one(index: int) -> None:
        try:
            barrier.wait(TIMEOUT)
            results[index] = fn(index)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"a concurrent call did not finish within {TIMEOUT} s")
    return [results[i] for i in range(n)]
