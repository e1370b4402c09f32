"""A Starlette app the ``doorward`` console script is pointed at (``--app``)."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from doorward import Argon2Params, Settings
from doorward.mailers import AsyncOutbox
from doorward.threaded import AsyncThreadedStore
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base
from doorward_starlette import Doorward

engine = sqlite_engine(os.environ["CLI_TEST_DB"])
Base.metadata.create_all(engine)
doorward = Doorward(
    settings=Settings(
        secret_keys="cli-tests-secret-key-0123456789abcdefgh",
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
    ),
    store=AsyncThreadedStore(SQLAlchemyStore(engine, default_models())),
    mailer=AsyncOutbox(),
)
app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
