"""doorward: user authentication written once, for any Python web framework.

The flows exist in two faces generated from one source: ``AsyncAuth`` for async apps
(Starlette, FastAPI) and ``Auth`` for sync apps (Flask). Both take the same ``Settings``
and a store implementing ``AsyncUserStore`` / ``UserStore``.
"""

from doorward._async.app_clients import AsyncRefreshTokens
from doorward._async.context import AsyncContext
from doorward._async.feature import AsyncFeature
from doorward._async.memory import AsyncMemoryStore
from doorward._async.oauth import AsyncSocialIdentities
from doorward._async.outbox import AsyncMailOutbox
from doorward._async.passkeys import AsyncPasskeyStore
from doorward._async.passwordless import AsyncSignInCodes
from doorward._async.protocols import (
    AsyncAuthenticators,
    AsyncCredentials,
    AsyncCredentialsWithRoles,
    AsyncMailer,
    AsyncPasswordHasher,
    AsyncProfiles,
    AsyncRoles,
    AsyncUsernames,
    AsyncUsers,
    AsyncUserStore,
)
from doorward._async.ratelimit import AsyncMemoryRateLimiter, AsyncRateLimiter
from doorward._async.service import AsyncAuth
from doorward._async.views import AsyncViews
from doorward._rules import Identity, IssuedSession, SnapshotUser
from doorward._sync.app_clients import RefreshTokens
from doorward._sync.context import Context
from doorward._sync.feature import Feature
from doorward._sync.memory import MemoryStore
from doorward._sync.oauth import SocialIdentities
from doorward._sync.outbox import MailOutbox
from doorward._sync.passkeys import PasskeyStore
from doorward._sync.passwordless import SignInCodes
from doorward._sync.protocols import (
    Authenticators,
    Credentials,
    CredentialsWithRoles,
    Mailer,
    PasswordHasher,
    Profiles,
    Roles,
    Usernames,
    Users,
    UserStore,
)
from doorward._sync.ratelimit import MemoryRateLimiter, RateLimiter
from doorward._sync.service import Auth
from doorward._sync.views import Views
from doorward.clock import Clock, FrozenClock, SystemClock
from doorward.events import Events
from doorward.hashing import Argon2Hasher, AsyncArgon2Hasher
from doorward.mail import Mail
from doorward.records import (
    USER_FIELDS,
    Authenticator,
    Credential,
    NewUser,
    OutboxMessage,
    RefreshToken,
    Role,
    SignInCode,
    SocialIdentity,
    UserLike,
)
from doorward.routing import Endpoint, Route, endpoint
from doorward.settings import Argon2Params, RateLimit, Settings
from doorward.web import Call, RequestState

__version__ = "0.1.0"

__all__ = [
    # the async face
    "AsyncArgon2Hasher",
    "AsyncAuth",
    "AsyncAuthenticators",
    "AsyncMailOutbox",
    "AsyncContext",
    "AsyncCredentials",
    "AsyncCredentialsWithRoles",
    "AsyncFeature",
    "AsyncMailer",
    "AsyncMemoryRateLimiter",
    "AsyncMemoryStore",
    "AsyncPasskeyStore",
    "AsyncPasswordHasher",
    "AsyncProfiles",
    "AsyncRateLimiter",
    "AsyncRefreshTokens",
    "AsyncRoles",
    "AsyncSignInCodes",
    "AsyncSocialIdentities",
    "AsyncUserStore",
    "AsyncUsernames",
    "AsyncUsers",
    "AsyncViews",
    # the sync face
    "Argon2Hasher",
    "Auth",
    "Authenticators",
    "MailOutbox",
    "Context",
    "Credentials",
    "CredentialsWithRoles",
    "Feature",
    "Mailer",
    "MemoryRateLimiter",
    "MemoryStore",
    "PasskeyStore",
    "PasswordHasher",
    "Profiles",
    "RateLimiter",
    "RefreshTokens",
    "Roles",
    "SignInCodes",
    "SocialIdentities",
    "UserStore",
    "Usernames",
    "Users",
    "Views",
    # shared
    "USER_FIELDS",
    "Argon2Params",
    "Authenticator",
    "OutboxMessage",
    "Call",
    "Clock",
    "Credential",
    "Endpoint",
    "Events",
    "FrozenClock",
    "Identity",
    "IssuedSession",
    "Mail",
    "NewUser",
    "RateLimit",
    "RefreshToken",
    "RequestState",
    "Role",
    "SignInCode",
    "SnapshotUser",
    "SocialIdentity",
    "Route",
    "Settings",
    "SystemClock",
    "UserLike",
    "endpoint",
]
