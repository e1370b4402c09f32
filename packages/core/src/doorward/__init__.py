"""doorward: user authentication written once, for any Python web framework."""

from doorward._async.protocols import AsyncMailer, AsyncPasswordHasher, AsyncUserStore
from doorward._sync.protocols import Mailer, PasswordHasher, UserStore
from doorward.clock import Clock, FrozenClock, SystemClock
from doorward.events import Events
from doorward.mail import Mail
from doorward.records import Credential, NewUser, Role, UserLike
from doorward.settings import Argon2Params, RateLimit, Settings

__version__ = "0.1.0"

__all__ = [
    # the async face
    "AsyncMailer",
    "AsyncPasswordHasher",
    "AsyncUserStore",
    # the sync face
    "Mailer",
    "PasswordHasher",
    "UserStore",
    # shared
    "Argon2Params",
    "Clock",
    "Credential",
    "Events",
    "FrozenClock",
    "Mail",
    "NewUser",
    "RateLimit",
    "Role",
    "Settings",
    "SystemClock",
    "UserLike",
]
