"""The Starlette example, mirroring the Flask one on the same database and secrets.

DOORWARD_SECRET_KEY=... uvicorn --factory examples.starlette_app:create_app --port 8000
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import redis.asyncio
from markupsafe import Markup
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from doorward import AsyncRateLimiter, AsyncUserStore
from doorward._async.mailers import mailer_from_url
from doorward.outbox import AsyncOutboxMailer
from doorward.threaded import AsyncThreadedRateLimiter, AsyncThreadedStore
from doorward_redis import AsyncRedisRateLimiter
from doorward_sqlalchemy import (
    AsyncSQLAlchemyRateLimiter,
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    default_models,
    sqlite_engine,
)
from doorward_starlette import Doorward, csrf_token, roles_required
from examples._common import (
    LAYOUT,
    PAGES,
    TEMPLATES,
    async_database_url,
    database_url,
    other_app,
    settings_from_env,
)


def storage(url: str) -> tuple[AsyncUserStore, AsyncRateLimiter]:
    """The store and the rate limiter for the database URL (Redis limits when configured)."""
    store: AsyncUserStore
    limiter: AsyncRateLimiter
    if url.startswith("sqlite"):
        # SQLite has no async driver that avoids a thread hop per call; the sync store
        # in a worker thread makes one hop per store call instead.
        engine = sqlite_engine(url)
        store = AsyncThreadedStore(SQLAlchemyStore(engine, default_models()))
        limiter = AsyncThreadedRateLimiter(SQLAlchemyRateLimiter(engine))
    else:
        async_engine = create_async_engine(async_database_url(url))
        store = AsyncSQLAlchemyStore(async_engine, default_models())
        limiter = AsyncSQLAlchemyRateLimiter(async_engine)
    redis_url = os.environ.get("DOORWARD_REDIS_URL")
    if redis_url:
        client = redis.asyncio.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        limiter = AsyncRedisRateLimiter(client)
    return store, limiter


def mail(store: AsyncUserStore) -> Any:
    """Durable mail (DI-02) for an SMTP URL: kept in the database until delivered; the
    worker task starts with the app (lifespan), so mail an earlier process left goes out
    at once. The console mailer otherwise."""
    mail_url = os.environ.get("DOORWARD_MAIL_URL", "console://")
    if mail_url.startswith("smtp"):
        return AsyncOutboxMailer.from_url(store, mail_url, lease=timedelta(minutes=1))
    return mailer_from_url(mail_url)


def create_app() -> Starlette:
    """Build the example app from the environment."""
    settings = settings_from_env("http://127.0.0.1:8000")
    store, limiter = storage(database_url())
    mailer = mail(store)
    doorward = Doorward(
        settings=settings,
        store=store,
        limiter=limiter,
        mailer=mailer,
        template_directories=[TEMPLATES],
    )
    layout = doorward.templates.env.get_template(LAYOUT)
    other_url, other_name = other_app()

    def page(request: Request, name: str, status: int = 200) -> HTMLResponse:
        title, body = PAGES[name]
        html = layout.render(
            title=title,
            body=Markup(body),
            framework="Starlette",
            user=request.user if request.user.is_authenticated else None,
            csrf_token=csrf_token(request),
            other_url=other_url,
            other_name=other_name,
        )
        return HTMLResponse(html, status_code=status)

    async def home(request: Request) -> HTMLResponse:
        return page(request, "home")

    @requires("authenticated", redirect="doorward:login_page")
    async def account(request: Request) -> HTMLResponse:
        return page(request, "account")

    @roles_required("admin")
    async def admin(request: Request) -> HTMLResponse:
        return page(request, "admin")

    @requires("authenticated", status_code=401)
    async def whoami(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"id": user.identity, "email": user.email, "framework": "starlette"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if isinstance(mailer, AsyncOutboxMailer):
            mailer.start()
        yield
        if isinstance(mailer, AsyncOutboxMailer):
            await mailer.close()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home),
            Route("/account", account),
            Route("/admin", admin),
            Route("/api/whoami", whoami),
            doorward.mount(),
        ],
        middleware=[doorward.middleware()],
    )
