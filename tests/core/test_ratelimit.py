"""The in-memory rate limiter counts exactly per key and window, on both faces (RL-03, RL-05)."""

import asyncio
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from doorward._async.ratelimit import AsyncMemoryRateLimiter, AsyncRateLimiter
from doorward._sync.ratelimit import MemoryRateLimiter, RateLimiter
from doorward.settings import RateLimit
from doorward.testing import AsyncRateLimiterContract, RateLimiterContract

T0 = datetime(2030, 1, 1, tzinfo=UTC)
FIVE_PER_MINUTE = RateLimit(5, timedelta(minutes=1))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_rl05_limit_hits_pass_then_the_next_waits():
    """N hits in a window pass; hit N+1 is refused with the exact seconds to wait."""
    limiter = MemoryRateLimiter()
    for second in range(5):
        assert limiter.hit("forgot:1.2.3.4", FIVE_PER_MINUTE, at(second)) is None
    retry_after = limiter.hit("forgot:1.2.3.4", FIVE_PER_MINUTE, at(10))
    assert retry_after == pytest.approx(50.0)


def test_rl05_window_passing_allows_again():
    """Once the oldest hit leaves the window, one more hit is allowed, and only one."""
    limiter = MemoryRateLimiter()
    for second in range(5):
        assert limiter.hit("k", FIVE_PER_MINUTE, at(second)) is None
    assert limiter.hit("k", FIVE_PER_MINUTE, at(59.5)) == pytest.approx(0.5)
    assert limiter.hit("k", FIVE_PER_MINUTE, at(60)) is None
    assert limiter.hit("k", FIVE_PER_MINUTE, at(60)) == pytest.approx(1.0)
    assert limiter.hit("k", FIVE_PER_MINUTE, at(200)) is None


def test_rl05_refused_hits_are_not_counted():
    """Hammering while limited does not push the time of release further away."""
    limiter = MemoryRateLimiter()
    for _ in range(5):
        limiter.hit("k", FIVE_PER_MINUTE, at(0))
    for second in range(1, 60):
        assert limiter.hit("k", FIVE_PER_MINUTE, at(second)) is not None
    assert limiter.hit("k", FIVE_PER_MINUTE, at(60)) is None


def test_rl05_sliding_window_has_no_boundary_burst():
    """Hits at the end of one minute still count at the start of the next: no 2N burst."""
    limiter = MemoryRateLimiter()
    for _ in range(5):
        assert limiter.hit("k", FIVE_PER_MINUTE, at(59)) is None
    assert limiter.hit("k", FIVE_PER_MINUTE, at(61)) is not None


def test_rl03_reset_clears_only_that_key():
    """Resetting an account's bucket leaves the per-IP bucket (and others) as they were."""
    limiter = MemoryRateLimiter()
    for _ in range(5):
        limiter.hit("login-account:42", FIVE_PER_MINUTE, at(0))
        limiter.hit("login-ip:1.2.3.4", FIVE_PER_MINUTE, at(0))
    limiter.reset("login-account:42")
    assert limiter.hit("login-account:42", FIVE_PER_MINUTE, at(1)) is None
    assert limiter.hit("login-ip:1.2.3.4", FIVE_PER_MINUTE, at(1)) == pytest.approx(59.0)
    limiter.reset("never-seen")


def test_rl05_keys_are_independent():
    """Exhausting one key does not limit another."""
    limiter = MemoryRateLimiter()
    for _ in range(5):
        limiter.hit("a", FIVE_PER_MINUTE, at(0))
    assert limiter.hit("a", FIVE_PER_MINUTE, at(0)) is not None
    assert limiter.hit("b", FIVE_PER_MINUTE, at(0)) is None


def test_rl05_zero_limit_always_refuses():
    """A limit of zero refuses every hit with the window as the wait."""
    limiter = MemoryRateLimiter()
    assert limiter.hit("k", RateLimit(0, timedelta(seconds=30)), at(0)) == pytest.approx(30.0)


def test_rl05_memory_is_bounded():
    """Expired keys are swept, and beyond ``max_keys`` the least recently hit key goes."""
    limiter = MemoryRateLimiter(max_keys=100, sweep_every=50)
    for index in range(1000):
        limiter.hit(f"k{index}", FIVE_PER_MINUTE, at(index * 120))
    assert len(limiter) <= 50
    crowded = MemoryRateLimiter(max_keys=10, sweep_every=10_000)
    for index in range(100):
        crowded.hit(f"k{index}", FIVE_PER_MINUTE, at(0))
    assert len(crowded) == 10
    with pytest.raises(ValueError):
        MemoryRateLimiter(max_keys=0)


def test_rl05_exact_count_under_threads():
    """Eight threads released together on one key get exactly ``limit`` admissions."""
    limiter = MemoryRateLimiter()
    limit = RateLimit(1000, timedelta(hours=1))
    barrier = threading.Barrier(8)
    admitted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        count = sum(limiter.hit("shared", limit, at(0)) is None for _ in range(250))
        with lock:
            admitted.append(count)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(admitted) == 1000


@pytest.mark.asyncio
async def test_rl05_async_face_counts_the_same():
    """The async limiter admits exactly ``limit`` of many concurrent hits and resets per key."""
    limiter = AsyncMemoryRateLimiter()
    results = await asyncio.gather(
        *(limiter.hit("k", FIVE_PER_MINUTE, at(0)) for _ in range(20)),
    )
    assert sum(result is None for result in results) == 5
    assert all(result == pytest.approx(60.0) for result in results if result is not None)
    await limiter.reset("k")
    assert await limiter.hit("k", FIVE_PER_MINUTE, at(1)) is None


def test_rl05_memory_limiters_satisfy_the_protocols():
    """The in-memory limiters are usable wherever the protocols are expected."""
    sync_limiter: RateLimiter = MemoryRateLimiter()
    async_limiter: AsyncRateLimiter = AsyncMemoryRateLimiter()
    assert sync_limiter is not None
    assert async_limiter is not None


class TestMemoryRateLimiter(RateLimiterContract):
    """The in-memory limiter keeps the limiter contract (threads race on the sync face)."""

    @pytest.fixture
    def limiter(self):
        return MemoryRateLimiter()


class TestAsyncMemoryRateLimiter(AsyncRateLimiterContract):
    """The async in-memory limiter keeps the limiter contract."""

    @pytest.fixture
    def limiter(self):
        return AsyncMemoryRateLimiter()
