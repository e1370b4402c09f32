"""doorward for Starlette and FastAPI."""

from doorward_starlette.app import Doorward, DoorwardMiddleware, DoorwardUser, Refused, RequestState
from doorward_starlette.csrf import csrf_exempt, csrf_protect, csrf_token
from doorward_starlette.guards import (
    fresh_login_required,
    login_required,
    permissions_required,
    roles_accepted,
    roles_required,
)

__all__ = [
    "Doorward",
    "DoorwardMiddleware",
    "DoorwardUser",
    "Refused",
    "RequestState",
    "csrf_exempt",
    "csrf_protect",
    "csrf_token",
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
]
