"""The Redis limiters behind the Flask and Starlette adapters (``limiter=``): one count shared
by both apps, 429 with ``Retry-After`` when spent, 503 when Redis is down (FT-04)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
import redis.asyncio
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.applications import Starlette

from doorward import Argon2Params, AsyncMemoryStore, MemoryStore, Settings
from doorward._async.mailers import AsyncOutbox
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.settings import RateLimit
from doorward_flask import Doorward as FlaskDoorward
from doorward_redis import AsyncRedisRateLimiter, RedisRateLimiter
from doorward_starlette import Doorward as StarletteDoorward

pytestmark = pytest.mark.redis

SECRET = "redis-tests-secret-key-0123456789abcdefgh"
JSON = {"Accept": "application/json"}
CLOCK = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))


def settings():
    return Settings(
        secret_keys=SECRET,
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
        rate_limits={"forgot_password": RateLimit(3, timedelta(hours=1))},
    )


def flask_app(limiter):
    app = Flask(__name__)
    FlaskDoorward(
        app, store=MemoryStore(), settings=settings(), mailer=Outbox(), clock=CLOCK, limiter=limiter
    )
    return app


def starlette_app(limiter):
    doorward = StarletteDoorward(
        settings=settings(),
        store=AsyncMemoryStore(),
        mailer=AsyncOutbox(),
        clock=CLOCK,
        limiter=limiter,
    )
    return Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])


def forgot_sync(http):
    token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    return http.post(
        "/auth/reset", json={"email": "a@example.com"}, headers={"X-CSRF-Token": token, **JSON}
    )


async def forgot_async(http):
    token = (await http.get("/auth/csrf", headers=JSON)).json()["csrf_token"]
    return await http.post(
        "/auth/reset", json={"email": "a@example.com"}, headers={"X-CSRF-Token": token, **JSON}
    )


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_flask_and_starlette_apps_share_one_count_in_redis(redis_url, prefix):
    """Two forgot-password requests on Flask and one on Starlette spend the limit of 3; the next is 429 on either."""
    sync_client = redis.Redis.from_url(redis_url)
    async_client = redis.asyncio.Redis.from_url(redis_url)
    flask_http = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app(RedisRateLimiter(sync_client, prefix=prefix))),
        base_url="https://testserver",
    )
    asgi = starlette_app(AsyncRedisRateLimiter(async_client, prefix=prefix))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi, client=("127.0.0.1", 123)),
        base_url="https://testserver",
    ) as starlette_http:
        assert [forgot_sync(flask_http).status_code for _ in range(2)] == [202, 202]
        assert (await forgot_async(starlette_http)).status_code == 202
        refused = await forgot_async(starlette_http)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["Retry-After"] == "3600"
        assert forgot_sync(flask_http).status_code == 429
    flask_http.close()
    sync_client.close()
    await async_client.aclose()


def test_ft04_flask_answers_503_when_redis_is_down():
    """With the Redis limiter unreachable, Flask refuses a rate-limited route with 503, never lets it through."""
    client = redis.Redis(port=closed_port(), retry=Retry(NoBackoff(), 0))
    http = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app(RedisRateLimiter(client))),
        base_url="https://testserver",
    )
    response = forgot_sync(http)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    http.close()
    client.close()


@pytest.mark.asyncio
async def test_ft04_starlette_answers_503_when_redis_is_down():
    """With the async Redis limiter unreachable, Starlette refuses a rate-limited route with 503."""
    client = redis.asyncio.Redis(port=closed_port(), retry=Retry(NoBackoff(), 0))
    app = starlette_app(AsyncRedisRateLimiter(client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        response = await forgot_async(http)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    await client.aclose()
