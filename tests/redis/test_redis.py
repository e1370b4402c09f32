"""The limiter contract on Redis, sync and async, through the real redis-py driver; plus its
own rules: keys stored as prefixed digests with an expiry, driver errors fail closed, and
many processes on separate clients count one key exactly."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from doorward.exceptions import StoreUnavailable
from doorward.settings import RateLimit
from doorward.testing import AsyncRateLimiterContract, RateLimiterContract
from doorward_redis import AsyncRedisRateLimiter, RedisRateLimiter

pytestmark = pytest.mark.redis

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
MINUTE = RateLimit(5, timedelta(minutes=1))


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestRedisRateLimiter(RateLimiterContract):
    """The shared limiter on Redis: threads race through one client's connection pool."""

    race_workers = 16

    @pytest.fixture
    def limiter(self, sync_redis, prefix):
        return RedisRateLimiter(sync_redis, prefix=prefix)


class TestAsyncRedisRateLimiter(AsyncRateLimiterContract):
    """The async shared limiter on Redis: tasks race through one client's connection pool."""

    race_workers = 16

    @pytest_asyncio.fixture
    async def limiter(self, async_redis, prefix):
        return AsyncRedisRateLimiter(async_redis, prefix=prefix)


def test_keys_are_prefixed_digests_that_expire(sync_redis, prefix):
    """A key is stored as the prefix and its SHA-256, with an expiry of one window."""
    limiter = RedisRateLimiter(sync_redis, prefix=prefix)
    limiter.hit("mail:reset:a@example.com", MINUTE, NOW)
    limiter.hit("mail:reset:a@example.com", MINUTE, NOW + timedelta(seconds=1))
    (stored,) = sync_redis.scan_iter(match=prefix + "*")
    digest = hashlib.sha256(b"mail:reset:a@example.com").hexdigest()
    assert stored == (prefix + digest).encode()
    assert sync_redis.zcard(stored) == 2
    assert 0 < sync_redis.pttl(stored) <= 60_000


def test_refused_hits_add_nothing_to_the_key(sync_redis, prefix):
    """A full key holds exactly ``limit`` entries however often it is hit."""
    limiter = RedisRateLimiter(sync_redis, prefix=prefix)
    for second in range(20):
        limiter.hit("k", MINUTE, NOW + timedelta(seconds=second))
    assert sync_redis.zcard(prefix + hashlib.sha256(b"k").hexdigest()) == MINUTE.limit


def test_the_wait_ends_when_the_oldest_counted_hit_leaves_the_window(sync_redis, prefix):
    """The wait is exact to the microsecond: the oldest hit's time plus the window, minus now."""
    limiter = RedisRateLimiter(sync_redis, prefix=prefix)
    first = NOW + timedelta(microseconds=123_457)
    assert limiter.hit("k", MINUTE, first) is None
    for second in range(1, MINUTE.limit):
        assert limiter.hit("k", MINUTE, first + timedelta(seconds=second)) is None
    wait = limiter.hit("k", MINUTE, first + timedelta(seconds=10))
    assert wait == pytest.approx(50.0, abs=1e-6)
    assert limiter.hit("k", MINUTE, first + MINUTE.window) is None


@pytest.mark.parametrize("options", [{"decode_responses": True}, {"protocol": 3}])
def test_clients_that_decode_or_speak_resp3_work_the_same(redis_url, prefix, options):
    """A client with ``decode_responses=True`` or on RESP3 gets the same answers."""
    client = redis.Redis.from_url(redis_url, **options)
    limiter = RedisRateLimiter(client, prefix=prefix)
    for _ in range(MINUTE.limit):
        assert limiter.hit("k", MINUTE, NOW) is None
    assert limiter.hit("k", MINUTE, NOW + timedelta(seconds=15)) == pytest.approx(45.0)
    client.close()


def test_a_limit_below_one_refuses_without_asking_redis():
    """A limit of 0 refuses for a whole window, as the other limiters do, even with Redis down."""
    client = redis.Redis(port=closed_port())
    limiter = RedisRateLimiter(client)
    assert limiter.hit("k", RateLimit(0, timedelta(minutes=1)), NOW) == 60.0
    client.close()


def test_ft04_shared_limiter_fails_closed_when_the_server_is_down(caplog):
    """A limiter that cannot reach Redis refuses with StoreUnavailable and no driver text."""
    port = closed_port()
    client = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
    limiter = RedisRateLimiter(client)
    with pytest.raises(StoreUnavailable) as info:
        limiter.hit("login:203.0.113.7", MINUTE, datetime.now(UTC))
    with pytest.raises(StoreUnavailable):
        limiter.reset("login:203.0.113.7")
    for text in (str(info.value), caplog.text):
        assert str(port) not in text
        assert "refused" not in text.lower()
    assert info.value.code == "store_unavailable"
    assert info.value.__cause__ is None
    client.close()


@pytest.mark.asyncio
async def test_ft04_async_shared_limiter_fails_closed_when_the_server_is_down():
    """The async limiter also refuses with StoreUnavailable when Redis is down."""
    port = closed_port()
    client = redis.asyncio.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
    limiter = AsyncRedisRateLimiter(client)
    with pytest.raises(StoreUnavailable) as info:
        await limiter.hit("login:203.0.113.7", MINUTE, datetime.now(UTC))
    with pytest.raises(StoreUnavailable):
        await limiter.reset("login:203.0.113.7")
    assert str(port) not in str(info.value)
    await client.aclose()


def test_ft04_a_server_that_stops_answering_fails_closed(prefix):
    """A server that accepts the connection but never answers times out into StoreUnavailable."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = redis.Redis(
            port=silent.getsockname()[1], socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )
        limiter = RedisRateLimiter(client, prefix=prefix)
        with pytest.raises(StoreUnavailable):
            limiter.hit("k", MINUTE, NOW)
        client.close()


def test_processes_and_threads_on_separate_clients_count_one_key_exactly(redis_url, prefix):
    """Four processes of three threads, each thread on its own client, get exactly ``limit`` passes."""
    processes, threads, hits, limit = 4, 3, 20, 50
    hammer = Path(__file__).with_name("_hammer.py")
    workers = [
        subprocess.Popen(
            [sys.executable, str(hammer), redis_url, prefix, str(threads), str(hits), str(limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        passed = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert all(worker.returncode == 0 for worker in workers)
    assert sum(passed) == limit
    client = redis.Redis.from_url(redis_url)
    (key,) = client.scan_iter(match=prefix + "*")
    assert client.zcard(key) == limit
    client.close()
