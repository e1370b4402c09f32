"""The outbox contract on the in-memory store, both faces (DI-02)."""

import pytest
import pytest_asyncio

from doorward import AsyncMemoryStore, MemoryStore
from doorward.testing import AsyncMailOutboxContract, MailOutboxContract


class TestMemoryOutbox(MailOutboxContract):
    """MemoryStore keeps the outbox contract (threads race on its lock)."""

    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestAsyncMemoryOutbox(AsyncMailOutboxContract):
    """AsyncMemoryStore keeps the outbox contract (tasks race)."""

    @pytest_asyncio.fixture
    async def store(self):
        return AsyncMemoryStore()
