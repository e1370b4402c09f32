"""TEMPORARY (replaced by the memstore branch)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def run_concurrently(fn: Callable[[int], Awaitable[Any]], n: int) -> list[Any]:
    return list(await asyncio.gather(*(fn(i) for i in range(n)), return_exceptions=True))
