"""App factories the end-to-end tests start in worker processes (gunicorn, uvicorn).

Configured from the environment the test sets: DOORWARD_E2E_DATABASE_URL (or
DOORWARD_E2E_MONGO_URL and DOORWARD_E2E_MONGO_DB), DOORWARD_SECRET_KEY,
DOORWARD_BASE_URL, DOORWARD_MAIL_URL. Rate limits are off so that
the races reach the store; argon2 runs with test parameters.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask
from pymongo import AsyncMongoClient, MongoClient
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from doorward import Argon2Params, Settings
from doorward._async.mailers import mailer_from_url as async_mailer_from_url
from doorward._sync.mailers import mailer_from_url
from doorward_flask import Doorward as FlaskDoorward
from doorward_mongo import AsyncMongoStore, MongoStore
from doorward_sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore, default_models
from doorward_starlette import Doorward as StarletteDoorward


def settings() -> Settings:
    return Settings(
        secret_keys=os.environ["DOORWARD_SECRET_KEY"],
        base_url=os.environ["DOORWARD_BASE_URL"],
        insecure_development=True,
        argon2=Argon2Params.insecure_for_tests(),
        rate_limits={},
    )


def _sync_store() -> Any:
    mongo = os.environ.get("DOORWARD_E2E_MONGO_URL")
    if mongo:
        return MongoStore(MongoClient(mongo, tz_aware=True), os.environ["DOORWARD_E2E_MONGO_DB"])
    engine = sa.create_engine(os.environ["DOORWARD_E2E_DATABASE_URL"], pool_size=10)
    return SQLAlchemyStore(engine, default_models())


def _async_store() -> Any:
    mongo = os.environ.get("DOORWARD_E2E_MONGO_URL")
    if mongo:
        client = AsyncMongoClient(mongo, tz_aware=True)
        return AsyncMongoStore(client, os.environ["DOORWARD_E2E_MONGO_DB"])
    url = sa.engine.make_url(os.environ["DOORWARD_E2E_DATABASE_URL"])
    return AsyncSQLAlchemyStore(create_async_engine(url, pool_size=10), default_models())


def flask_app() -> Flask:
    app = Flask(__name__)
    FlaskDoorward(
        app,
        store=_sync_store(),
        settings=settings(),
        mailer=mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )
    return app


def starlette_app() -> Starlette:
    doorward = StarletteDoorward(
        settings=settings(),
        store=_async_store(),
        mailer=async_mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )
    return Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
