"""Driver errors become ``StoreUnavailable``, with no driver text (FT-01, FT-04)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from doorward.exceptions import StoreUnavailable

logger = logging.getLogger("doorward.redis")


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Run one Redis operation; any failure of the server or the connection is a 503."""
    try:
        yield
    except (RedisError, OSError) as exc:
        logger.warning("doorward: %s failed: %s", operation, type(exc).__name__)
        raise StoreUnavailable from None
