"""doorward for Flask."""

from doorward_flask.csrf import csrf_exempt, csrf_protect, csrf_token
from doorward_flask.decorators import (
    fresh_login_required,
    login_required,
    permissions_required,
    roles_accepted,
    roles_required,
)
from doorward_flask.extension import Doorward, current_identity, settings_from_config
from doorward_flask.proxies import AnonymousUser, current_user
from doorward_flask.signals import signals

__all__ = [
    "AnonymousUser",
    "Doorward",
    "current_identity",
    "csrf_exempt",
    "csrf_protect",
    "csrf_token",
    "current_user",
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
    "settings_from_config",
    "signals",
]
