"""Contract suites for stores and flows, for this project and for your own store.

Subclass ``AsyncStoreContract`` / ``StoreContract`` with a ``store`` fixture yielding a
fresh store to check a store against every rule of the protocol (races included), and
``AsyncFlowsContract`` / ``FlowsContract`` to run every flow end to end on it. They need
pytest and pytest-asyncio (``pip install doorward[testing]``).
"""

from doorward.testing._async.flows_contract import AsyncFlowsContract
from doorward.testing._async.store_contract import AsyncStoreContract
from doorward.testing._sync.flows_contract import FlowsContract
from doorward.testing._sync.store_contract import StoreContract

__all__ = ["AsyncFlowsContract", "AsyncStoreContract", "FlowsContract", "StoreContract"]
