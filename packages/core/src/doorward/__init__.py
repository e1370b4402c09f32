"""doorward: user authentication written once, for any Python web framework.

The flows exist in two faces generated from one source: ``AsyncAuth`` for async apps
(Starlette, FastAPI) and ``Auth`` for sync apps (Flask). Both take the same ``Settings``
and a store implementing ``AsyncUserStore`` / ``UserStore``.
"""

from doorward._async.memory import AsyncMemoryStore
from doorward._async.protocols import AsyncMailer, AsyncPasswordHasher, AsyncUserStore
from doorward._async.ratelimit import AsyncMemoryRateLimiter, AsyncRateLimiter
from doorward._async.service import AsyncAuth
from doorward._async.views import ROUTES, AsyncViews
from doorward._rules import Identity, IssuedSession
from doorward._sync.memory import MemoryStore
from doorward._sync.protocols import Mailer, PasswordHasher, UserStore
from doorward._sync.ratelimit import MemoryRateLimiter, RateLimiter
from doorward._sync.service import Auth
from doorward._sync.views import Views
from doorward.clock import Clock, FrozenClock, SystemClock
from doorward.events import Events
from doorward.hashing import Argon2Hasher, AsyncArgon2Hasher
from doorward.mail import Mail
from doorward.records import USER_FIELDS, Credential, NewUser, Role, UserLike
from doorward.settings import Argon2Params, RateLimit, Settings

__version__ = "0.1.0"

__all__ = [
    # the async face
    "AsyncArgon2Hasher",
    "AsyncAuth",
    "AsyncMailer",
    "AsyncMemoryRateLimiter",
    "AsyncMemoryStore",
    "AsyncPasswordHasher",
    "AsyncRateLimiter",
    "AsyncUserStore",
    "AsyncViews",
    # the sync face
    "Argon2Hasher",
    "Auth",
    "Mailer",
    "MemoryRateLimiter",
    "MemoryStore",
    "PasswordHasher",
    "RateLimiter",
    "UserStore",
    "Views",
    # shared
    "ROUTES",
    "USER_FIELDS",
    "Argon2Params",
    "Clock",
    "Credential",
    "Events",
    "FrozenClock",
    "Identity",
    "IssuedSession",
    "Mail",
    "NewUser",
    "RateLimit",
    "Role",
    "Settings",
    "SystemClock",
    "UserLike",
]
