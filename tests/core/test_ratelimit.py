"""The in-process rate limiter: windows, retry-after, per-key resets, exact counting under threads."""

import threading
from datetime import UTC, datetime, timedelta

from doorward._sync.ratelimit import MemoryRateLimiter
from doorward.settings import RateLimit

T0 = datetime(2030, 1, 1, tzinfo=UTC)
FIVE_PER_MINUTE = RateLimit(5, timedelta(minutes=1))


def test_rl05_limit_then_retry_after_then_new_window():
    """Five hits pass, the sixth gets the seconds left in the window, the next window is open."""
    limiter = MemoryRateLimiter()
    assert [limiter.hit("k", FIVE_PER_MINUTE, T0) for _ in range(5)] == [None] * 5
    assert limiter.hit("k", FIVE_PER_MINUTE, T0 + timedelta(seconds=10)) == 50.0
    assert limiter.hit("k", FIVE_PER_MINUTE, T0 + timedelta(minutes=1)) is None


def test_rl03_reset_touches_only_its_key():
    """Resetting one key leaves another key's bucket as it was."""
    limiter = MemoryRateLimiter()
    for _ in range(5):
        limiter.hit("login:10.0.0.1", FIVE_PER_MINUTE, T0)
        limiter.hit("login:10.0.0.2", FIVE_PER_MINUTE, T0)
    limiter.reset("login:10.0.0.1")
    assert limiter.hit("login:10.0.0.1", FIVE_PER_MINUTE, T0) is None
    assert limiter.hit("login:10.0.0.2", FIVE_PER_MINUTE, T0) is not None


def test_exact_counting_under_threads():
    """Eight threads hitting one key 50 times each: exactly the limit is allowed."""
    limiter = MemoryRateLimiter()
    limit = RateLimit(123, timedelta(hours=1))
    allowed = []
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        allowed.extend(1 for _ in range(50) if limiter.hit("k", limit, T0) is None)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 123


def test_memory_is_bounded():
    """The number of keys kept never exceeds the bound."""
    limiter = MemoryRateLimiter(max_keys=100)
    for i in range(1000):
        limiter.hit(f"k{i}", FIVE_PER_MINUTE, T0 + timedelta(seconds=i))
    assert len(limiter._windows) <= 100
