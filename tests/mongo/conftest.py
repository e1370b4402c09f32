"""Fresh Mongo stores per test, on the server of ``mongo_url`` (tests/conftest.py)."""

from __future__ import annotations

import secrets

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from doorward_mongo import AsyncMongoStore, MongoStore


def fresh_name() -> str:
    return f"doorward_{secrets.token_hex(5)}"


@pytest.fixture
def mongo_store(sync_client):
    name = fresh_name()
    store = MongoStore(sync_client, name)
    store.ensure_indexes()
    yield store
    sync_client.drop_database(name)


@pytest_asyncio.fixture
async def async_mongo_store(mongo_url):
    client = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)
    name = fresh_name()
    store = AsyncMongoStore(client, name)
    await store.ensure_indexes()
    yield store
    await client.drop_database(name)
    await client.close()
