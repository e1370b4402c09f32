"""App factories the end-to-end tests start in worker processes (gunicorn, uvicorn).

Configured from the environment the test sets: DOORWARD_E2E_DATABASE_URL,
DOORWARD_SECRET_KEY, DOORWARD_BASE_URL, DOORWARD_MAIL_URL. Rate limits are off so that
the races reach the store; argon2 runs with test parameters.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from doorward import Argon2Params, Settings
from doorward._async.mailers import mailer_from_url as async_mailer_from_url
from doorward._sync.mailers import mailer_from_url
from doorward_flask import Doorward as FlaskDoorward
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


def flask_app() -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DOORWARD_E2E_DATABASE_URL"], pool_size=10)
    FlaskDoorward(
        app,
        store=SQLAlchemyStore(engine, default_models()),
        settings=settings(),
        mailer=mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )
    return app


def starlette_app() -> Starlette:
    url = sa.engine.make_url(os.environ["DOORWARD_E2E_DATABASE_URL"])
    engine = create_async_engine(url, pool_size=10)
    doorward = StarletteDoorward(
        settings=settings(),
        store=AsyncSQLAlchemyStore(engine, default_models()),
        mailer=async_mailer_from_url(os.environ["DOORWARD_MAIL_URL"]),
    )
    return Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
