"""doorward for Starlette and FastAPI."""

from doorward_starlette.app import Doorward, DoorwardMiddleware, DoorwardUser, Refused, RequestState
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
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
]
