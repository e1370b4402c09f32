"""The store contract, both faces, against the reference in-memory store."""

import pytest

from doorward import AsyncMemoryStore, MemoryStore
from doorward.testing import AsyncFlowsContract
from doorward.testing._async.store_contract import AsyncStoreContract
from doorward.testing._sync.store_contract import StoreContract
from doorward.threaded import AsyncThreadedStore


class TestAsyncMemoryStore(AsyncStoreContract):
    """AsyncMemoryStore keeps every rule of the store protocol."""

    @pytest.fixture
    def store(self):
        return AsyncMemoryStore()


class TestMemoryStore(StoreContract):
    """MemoryStore keeps every rule of the store protocol, under real threads."""

    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestThreadedMemoryStore(AsyncStoreContract):
    """A sync store behind AsyncThreadedStore keeps the async contract."""

    @pytest.fixture
    def store(self):
        return AsyncThreadedStore(MemoryStore())


class TestThreadedFlows(AsyncFlowsContract):
    """Every async flow runs on a sync store through the thread-pool wrapper."""

    @pytest.fixture
    def store(self):
        return AsyncThreadedStore(MemoryStore())
