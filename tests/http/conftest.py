"""Runs the HTTP contract against every installed adapter, on several stores.

``adapter`` is ``<framework>-<store>``: the in-memory store for both frameworks, the
SQLAlchemy store (sync on Flask, async on Starlette, a SQLite file) and the Mongo store
(async on Starlette) when those packages are installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from doorward.clock import FrozenClock
from doorward.settings import Argon2Params, Settings


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


VARIANTS = [
    name
    for name, modules in (
        ("flask-memory", ("doorward_flask",)),
        ("starlette-memory", ("doorward_starlette",)),
        ("flask-sqlalchemy", ("doorward_flask", "doorward_sqlalchemy")),
        ("starlette-sqlalchemy", ("doorward_starlette", "doorward_sqlalchemy")),
        ("starlette-mongo", ("doorward_starlette", "doorward_mongo")),
    )
    if _installed(*modules)
]

SECRET = "http-contract-secret-key-0123456789abcdef"


def contract_settings(**overrides: object) -> Settings:
    """Settings of the contract runs: a canonical base URL that differs from the test host."""
    values: dict[str, object] = {
        "secret_keys": SECRET,
        "base_url": "https://auth.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
        "max_concurrent_hashes": 4,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(
    params=VARIANTS or [pytest.param("none", marks=pytest.mark.skip(reason="no adapter installed"))]
)
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _store_factory(store: str, framework: str, tmp_path, request):
    if store == "memory":
        return None
    if store == "sqlalchemy":
        from doorward_sqlalchemy import (
            AsyncSQLAlchemyStore,
            SQLAlchemyStore,
            async_sqlite_engine,
            default_models,
            sqlite_engine,
        )
        from doorward_sqlalchemy.models import Base

        path = tmp_path / "contract.sqlite3"
        engine = sqlite_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        if framework == "flask":
            return lambda: SQLAlchemyStore(engine, default_models())

        async def make_async():
            return AsyncSQLAlchemyStore(
                async_sqlite_engine(f"sqlite+aiosqlite:///{path}"), default_models()
            )

        return make_async
    if store == "mongo":
        from pymongo import AsyncMongoClient

        from doorward_mongo import AsyncMongoStore

        url = request.getfixturevalue("mongo_url")

        async def make_mongo():
            client = AsyncMongoClient(url, serverSelectionTimeoutMS=5000, tz_aware=True)
            made = AsyncMongoStore(client, f"doorward_http_{secrets.token_hex(4)}")
            await made.ensure_indexes()
            return made

        return make_mongo
    raise AssertionError(store)


@pytest.fixture
def site_factory(adapter: str, tmp_path, request):
    framework, store = adapter.split("-")
    module = importlib.import_module(f"tests.http.site_{framework}")
    made = []

    def make(**overrides: object):
        clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
        folder = tmp_path / str(len(made))
        folder.mkdir(exist_ok=True)
        factory = _store_factory(store, framework, folder, request)
        site = module.make_site(contract_settings(**overrides), clock, factory)
        made.append(site)
        return site

    yield make
    for site in made:
        site.client.close()
        site.extras["close"]()


@pytest.fixture
def site(site_factory) -> Iterator[object]:
    return site_factory()
