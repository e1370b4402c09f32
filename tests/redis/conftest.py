"""Redis clients for the limiter tests, on the server of ``scripts/services``.

Every test counts under its own key prefix (``doorward-test:<pid>:<random>:``) and deletes
its keys at the end, so parallel runs and other users of the server do not collide. A
server that is down fails the tests with a hint. Set ``DOORWARD_TEST_REDIS_URL`` to use
another server.
"""

from __future__ import annotations

import os
import secrets

import pytest
import pytest_asyncio
import redis
import redis.asyncio

REDIS_URL = os.environ.get("DOORWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc!r}); run scripts/services")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"doorward-test:{os.getpid()}:{secrets.token_hex(4)}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def sync_redis(redis_url):
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    yield client
    client.close()


@pytest_asyncio.fixture
async def async_redis(redis_url):
    client = redis.asyncio.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    yield client
    await client.aclose()
