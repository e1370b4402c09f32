"""TEMPORARY (replaced by the memstore branch)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_concurrently(fn: Callable[[int], Any], n: int) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
