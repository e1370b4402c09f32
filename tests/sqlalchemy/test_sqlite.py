"""The store and flows contracts on SQLite, sync (pysqlite) and async (aiosqlite)."""

import pytest
import pytest_asyncio

from doorward.testing import AsyncFlowsContract, AsyncStoreContract, FlowsContract, StoreContract
from doorward_sqlalchemy import (
    AsyncSQLAlchemyStore,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base


@pytest.fixture
def sync_store(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/sync.sqlite3")
    Base.metadata.create_all(engine)
    yield SQLAlchemyStore(engine, default_models())
    engine.dispose()


@pytest_asyncio.fixture
async def async_store(tmp_path):
    engine = async_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path}/async.sqlite3")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield AsyncSQLAlchemyStore(engine, default_models())
    await engine.dispose()


class TestSQLiteStore(StoreContract):
    """SQLAlchemyStore on a SQLite file keeps the store contract."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteStore(AsyncStoreContract):
    """AsyncSQLAlchemyStore on aiosqlite keeps the store contract."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


class TestSQLiteFlows(FlowsContract):
    """Every flow on SQLAlchemyStore over SQLite."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteFlows(AsyncFlowsContract):
    """Every flow on AsyncSQLAlchemyStore over aiosqlite."""

    @pytest.fixture
    def store(self, async_store):
        return async_store
