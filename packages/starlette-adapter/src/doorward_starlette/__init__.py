"""doorward for Starlette and FastAPI."""

from doorward_starlette.app import Doorward, DoorwardMiddleware, DoorwardUser, RequestState

__all__ = ["Doorward", "DoorwardMiddleware", "DoorwardUser", "RequestState"]
