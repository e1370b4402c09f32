"""App factories the end-to-end tests start in worker processes (gunicorn, uvicorn).

Configured from the environment the test sets: DOORWARD_E2E_DATABASE_URL (or
DOORWARD_E2E_MONGO_URL and DOORWARD_E2E_MONGO_DB), DOORWARD_SECRET_KEY,
DOORWARD_BASE_URL, DOORWARD_MAIL_URL; DOORWARD_E2E_OIDC_ISSUER adds an OpenID Connect
provider named ``mock`` (oidc-provider-mock, which accepts any client). Rate limits are off so that the races reach the
store, except resending confirmations, limited per client address by the limiter every
worker shares (the store's own); argon2 runs with test parameters.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from pymongo import AsyncMongoClient, MongoClient
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from doorward import Argon2Params, RateLimit, Settings
from doorward._async.mailers import mailer_from_url as async_mailer_from_url
from doorward._sync.mailers import mailer_from_url
from doorward.oauth import OAuthProvider
from doorward_flask import Doorward as FlaskDoorward
from doorward_mongo import AsyncMongoRateLimiter, AsyncMongoStore, MongoRateLimiter, MongoStore
from doorward_sqlalchemy import (
    AsyncSQLAlchemyRateLimiter,
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    default_models,
)
from doorward_starlette import Doorward as StarletteDoorward

#: the apps' own home page, where a login without ``next`` lands
HOME = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
    "<title>Home</title></head>"
    '<body><main><h1>Home</h1><p><a href="/auth/account">Your account</a></p></main></body></html>'
)


def settings() -> Settings:
    return Settings(
        secret_keys=os.environ["DOORWARD_SECRET_KEY"],
        base_url=os.environ["DOORWARD_BASE_URL"],
        insecure_development=True,
        argon2=Argon2Params.insecure_for_tests(),
        rate_limits={"send_confirmation": SHARED_LIMIT},
        sign_in_by_email=True,
        app_clients=True,
        oauth_providers=_oauth_providers(),
    )


def _oauth_providers() -> tuple[OAuthProvider, ...]:
    issuer = os.environ.get("DOORWARD_E2E_OIDC_ISSUER")
    if not issuer:
        return ()
    return (
        OAuthProvider(
            name="mock",
            issuer=issuer,
            client_id="doorward-e2e",
            client_secret="doorward-e2e-secret",
            label="the test provider",
        ),
    )


#: what the shared-limiter test expects: this many resends per address, from all workers
SHARED_LIMIT = RateLimit(10, timedelta(hours=1))


def _sync_store() -> tuple[Any, Any]:
    mongo = os.environ.get("DOORWARD_E2E_MONGO_URL")
    if mongo:
        client = MongoClient(mongo, tz_aware=True)
        database = os.environ["DOORWARD_E2E_MONGO_DB"]
        return MongoStore(client, database), MongoRateLimiter(client, database)
    engine = sa.create_engine(os.environ["DOORWARD_E2E_DATABASE_URL"], pool_size=10)
    return SQLAlchemyStore(engine, default_models()), SQLAlchemyRateLimiter(engine)


def _async_store() -> tuple[Any, Any]:
    mongo = os.environ.get("DOORWARD_E2E_MONGO_URL")
    if mongo:
        client = AsyncMongoClient(mongo, tz_aware=True)
        database = os.environ["DOORWARD_E2E_MONGO_DB"]
        return AsyncMongoStore(client, database), AsyncMongoRateLimiter(client, database)
    url = sa.engine.make_url(os.environ["DOORWARD_E2E_DATABASE_URL"])
    engine = create_async_engine(url, pool_size=10)
    return AsyncSQLAlchemyStore(engine, default_models()), AsyncSQLAlchemyRateLimiter(engine)


def flask_app() -> Flask:
    app = Flask(__name__)
    store, limiter = _sync_store()
    FlaskDoorward(
        app,
        store=store,
        limiter=limiter,
        settings=settings(),
        mailer=mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )
    app.add_url_rule("/", "home", lambda: HOME)
    return app


def starlette_app() -> Starlette:
    store, limiter = _async_store()
    doorward = StarletteDoorward(
        settings=settings(),
        store=store,
        limiter=limiter,
        mailer=async_mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(HOME)

    return Starlette(
        routes=[Route("/", home), doorward.mount()],
        middleware=[doorward.middleware()],
    )
