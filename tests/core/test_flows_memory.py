"""The flows suite, both faces, against the reference in-memory store."""

import pytest

from doorward._async.memory import AsyncMemoryStore
from doorward._sync.memory import MemoryStore
from doorward.testing._async.flows_contract import AsyncFlowsContract
from doorward.testing._sync.flows_contract import FlowsContract


class TestAsyncFlowsOnMemory(AsyncFlowsContract):
    """Every flow of AsyncAuth on AsyncMemoryStore."""

    @pytest.fixture
    def store(self):
        return AsyncMemoryStore()


class TestSyncFlowsOnMemory(FlowsContract):
    """Every flow of Auth on MemoryStore."""

    @pytest.fixture
    def store(self):
        return MemoryStore()
