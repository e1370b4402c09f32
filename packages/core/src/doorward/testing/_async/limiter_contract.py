"""The rate limiter contract: every rule of ``AsyncRateLimiter`` as tests for a limiter to pass.

Subclass ``AsyncRateLimiterContract`` and give it a ``limiter`` fixture returning a fresh,
empty limiter::

    class TestMyLimiter(AsyncRateLimiterContract):
        @pytest_asyncio.fixture
        async def limiter(self):
            return MyLimiter(...)

Time is passed in (``now``), so the tests move it by hand. A limiter may count in a
sliding log or in a window that starts at a key's first hit; either way, within one
window a key gets exactly ``limit`` hits, refused hits are not counted, and a key is free
again once a whole window has passed since its first counted hit. The race test hits one
key from several concurrent callers (tasks on the async face, threads on the sync face):
a limiter shared by several processes must count those exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from doorward._async.ratelimit import AsyncRateLimiter
from doorward.settings import RateLimit
from doorward.testing._async._concurrency import run_concurrently

__all__ = ["AsyncRateLimiterContract"]

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
HOUR = RateLimit(3, timedelta(hours=1))


class AsyncRateLimiterContract:
    """Every rule of ``AsyncRateLimiter``; subclasses provide the ``limiter`` fixture."""

    pytestmark = pytest.mark.asyncio

    #: how many concurrent callers the race test starts
    race_workers: ClassVar[int] = 8

    async def test_allows_the_limit_then_refuses_with_a_wait(
        self, limiter: AsyncRateLimiter
    ) -> None:
        """``limit`` hits pass; the next is refused with a wait in (0, window]."""
        for second in range(HOUR.limit):
            assert await limiter.hit("k", HOUR, T0 + timedelta(seconds=second)) is None
        wait = await limiter.hit("k", HOUR, T0 + timedelta(minutes=10))
        assert wait is not None
        assert 0 < wait <= HOUR.window.total_seconds()
        assert wait <= (HOUR.window - timedelta(minutes=10)).total_seconds() + 1

    async def test_a_key_is_free_again_after_a_whole_window(
        self, limiter: AsyncRateLimiter
    ) -> None:
        """Once a window has passed since the hits, the full limit is available again."""
        for _ in range(HOUR.limit):
            assert await limiter.hit("k", HOUR, T0) is None
        later = T0 + HOUR.window + timedelta(seconds=1)
        for _ in range(HOUR.limit):
            assert await limiter.hit("k", HOUR, later) is None
        assert await limiter.hit("k", HOUR, later) is not None

    async def test_refused_hits_are_not_counted(self, limiter: AsyncRateLimiter) -> None:
        """Hammering a full key does not push its release further away."""
        for _ in range(HOUR.limit):
            assert await limiter.hit("k", HOUR, T0) is None
        for minute in range(1, 30):
            assert await limiter.hit("k", HOUR, T0 + timedelta(minutes=minute)) is not None
        later = T0 + HOUR.window + timedelta(seconds=1)
        allowed = [await limiter.hit("k", HOUR, later) for _ in range(HOUR.limit)]
        assert allowed == [None] * HOUR.limit

    async def test_keys_are_independent(self, limiter: AsyncRateLimiter) -> None:
        """Filling one key leaves every other key untouched."""
        for _ in range(HOUR.limit):
            await limiter.hit("login:203.0.113.7", HOUR, T0)
        assert await limiter.hit("login:203.0.113.7", HOUR, T0) is not None
        assert await limiter.hit("login:203.0.113.8", HOUR, T0) is None
        assert await limiter.hit("register:203.0.113.7", HOUR, T0) is None

    async def test_rl03_reset_clears_one_key_only(self, limiter: AsyncRateLimiter) -> None:
        """``reset`` frees its key at once; other keys keep their counts (RL-03)."""
        for _ in range(HOUR.limit):
            await limiter.hit("account:a", HOUR, T0)
            await limiter.hit("ip:203.0.113.7", HOUR, T0)
        await limiter.reset("account:a")
        assert await limiter.hit("account:a", HOUR, T0) is None
        assert await limiter.hit("ip:203.0.113.7", HOUR, T0) is not None
        await limiter.reset("never-seen")

    async def test_each_call_uses_its_own_limit(self, limiter: AsyncRateLimiter) -> None:
        """The limit and window come with each call: a tighter one refuses sooner."""
        tight = RateLimit(1, timedelta(seconds=30))
        assert await limiter.hit("tight", tight, T0) is None
        wait = await limiter.hit("tight", tight, T0 + timedelta(seconds=10))
        assert wait is not None
        assert 0 < wait <= 30
        assert await limiter.hit("tight", tight, T0 + timedelta(seconds=31)) is None

    @pytest.mark.parametrize(
        "key",
        [
            "mail:confirm:" + "a" * 240 + "@example.com",
            "login:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
            "mail:reset:ünïcödé@exämple.org",
            "x'; DROP TABLE users; --",
            '{"$ne": null}',
        ],
    )
    async def test_any_key_text_is_a_plain_key(self, limiter: AsyncRateLimiter, key: str) -> None:
        """Long, non-ASCII and hostile keys are counted like any other, and only as themselves."""
        for _ in range(HOUR.limit):
            assert await limiter.hit(key, HOUR, T0) is None
        assert await limiter.hit(key, HOUR, T0) is not None
        assert await limiter.hit(key + "-other", HOUR, T0) is None

    async def test_concurrent_hits_are_counted_exactly(self, limiter: AsyncRateLimiter) -> None:
        """Callers released together on one key: exactly ``limit`` pass, in every round."""
        limit = RateLimit(self.race_workers // 2, timedelta(minutes=5))
        for round_ in range(3):
            now = T0 + round_ * (limit.window + timedelta(seconds=1))

            async def one(_: int, now: datetime = now) -> float | None:
                return await limiter.hit("race", limit, now)

            results = await run_concurrently(one, self.race_workers)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert not errors, errors
            assert sum(r is None for r in results) == limit.limit
