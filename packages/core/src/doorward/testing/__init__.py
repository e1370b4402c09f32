"""Test helpers for applications and store authors.

Subclass ``AsyncStoreContract`` / ``StoreContract`` with a ``store`` fixture yielding a
fresh store to check it against every rule of the store protocol (races included), or one
capability's suite (``AsyncUsersContract``, ``AsyncRolesContract``,
``AsyncCredentialsContract``, ``AsyncProfilesContract``, ``AsyncAuthenticatorsContract``,
``AsyncSocialIdentitiesContract``, ``AsyncSignInCodesContract``,
``AsyncRefreshTokensContract``, ``AsyncMailOutboxContract`` and their sync twins) for a store
that implements only some; and
``AsyncFlowsContract`` / ``FlowsContract`` to run every flow end to end on it;
``AsyncRateLimiterContract`` / ``RateLimiterContract`` check a rate limiter. They need
pytest and pytest-asyncio (``pip install doorward[testing]``). The in-memory stores are
here too, for tests of code that uses doorward.
"""

from doorward._async.memory import AsyncMemoryStore
from doorward._memory_user import MemoryUser
from doorward._sync.memory import MemoryStore
from doorward.testing._async.authenticators_contract import AsyncAuthenticatorsContract
from doorward.testing._async.flows_contract import AsyncFlowsContract
from doorward.testing._async.limiter_contract import AsyncRateLimiterContract
from doorward.testing._async.outbox_contract import AsyncMailOutboxContract
from doorward.testing._async.sign_in_contract import (
    AsyncRefreshTokensContract,
    AsyncSignInCodesContract,
)
from doorward.testing._async.social_contract import AsyncSocialIdentitiesContract
from doorward.testing._async.store_contract import (
    AsyncCredentialsContract,
    AsyncProfilesContract,
    AsyncRolesContract,
    AsyncStoreContract,
    AsyncUsernamesContract,
    AsyncUsersContract,
)
from doorward.testing._sync.authenticators_contract import AuthenticatorsContract
from doorward.testing._sync.flows_contract import FlowsContract
from doorward.testing._sync.limiter_contract import RateLimiterContract
from doorward.testing._sync.outbox_contract import MailOutboxContract
from doorward.testing._sync.sign_in_contract import RefreshTokensContract, SignInCodesContract
from doorward.testing._sync.social_contract import SocialIdentitiesContract
from doorward.testing._sync.store_contract import (
    CredentialsContract,
    ProfilesContract,
    RolesContract,
    StoreContract,
    UsernamesContract,
    UsersContract,
)

__all__ = [
    # the async face
    "AsyncAuthenticatorsContract",
    "AsyncCredentialsContract",
    "AsyncFlowsContract",
    "AsyncMailOutboxContract",
    "AsyncMemoryStore",
    "AsyncRateLimiterContract",
    "AsyncProfilesContract",
    "AsyncRefreshTokensContract",
    "AsyncRolesContract",
    "AsyncSignInCodesContract",
    "AsyncSocialIdentitiesContract",
    "AsyncStoreContract",
    "AsyncUsernamesContract",
    "AsyncUsersContract",
    # the sync face
    "AuthenticatorsContract",
    "CredentialsContract",
    "FlowsContract",
    "MailOutboxContract",
    "MemoryStore",
    "RateLimiterContract",
    "ProfilesContract",
    "RefreshTokensContract",
    "RolesContract",
    "SignInCodesContract",
    "SocialIdentitiesContract",
    "StoreContract",
    "UsernamesContract",
    "UsersContract",
    # shared
    "MemoryUser",
]
