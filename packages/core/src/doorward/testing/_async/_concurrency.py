"""Start n calls at the same instant on the async face: tasks behind a barrier (hand-written pair).

The contract's race tests call ``run_concurrently``; ``_sync/_concurrency.py`` does the
same with threads. Both return, in call order, each call's result or the exception it
raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: seconds before a call that never finishes fails the test instead of hanging it
TIMEOUT = 30.0


async def run_concurrently(fn: Callable[[int], Awaitable[T]], n: int) -> list[T | BaseException]:
    """Run ``fn(0)`` ... ``fn(n - 1)`` as tasks released together; return results or errors."""
    barrier = asyncio.Barrier(n)

    async def one(index: int) -> T:
        await barrier.wait()
        return await fn(index)

    async with asyncio.timeout(TIMEOUT):
        return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
