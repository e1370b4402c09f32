"""FastAPI dependencies (FastAPI itself is not a dependency of this package).

from doorward_starlette.fastapi import current_user, require_roles

@app.get("/me")
async def me(user = Depends(current_user)): ...

@app.get("/admin", dependencies=[Depends(require_roles("admin"))])
async def admin(): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request

from doorward import Identity
from doorward.exceptions import DoorwardError, Forbidden, NotAuthenticated, ReauthRequired
from doorward_starlette.app import APP_KEY, SCOPE_KEY, RequestState

__all__ = [
    "current_identity",
    "current_user",
    "optional_user",
    "require_fresh",
    "require_permissions",
    "require_roles",
]


def _http(exc: DoorwardError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=exc.to_dict()["error"])


def _state(request: Request) -> RequestState:
    state = request.scope.get(SCOPE_KEY)
    if not isinstance(state, RequestState):
        raise RuntimeError("add doorward.middleware() to the app's middleware")  # noqa: TRY004
    if state.error is not None:
        raise _http(state.error)
    return state


async def current_identity(request: Request) -> Identity:
    """The request's identity; 401 when anonymous."""
    identity = _state(request).identity
    if identity is None:
        raise _http(NotAuthenticated())
    return identity


async def current_user(request: Request) -> Any:
    """The application's user object; 401 when anonymous."""
    return (await current_identity(request)).user


async def optional_user(request: Request) -> Any | None:
    """The application's user object, or ``None``."""
    identity = _state(request).identity
    return identity.user if identity is not None else None


async def require_fresh(request: Request) -> Identity:
    """A session whose password was entered recently; 401 ``reauth_required`` otherwise."""
    identity = await current_identity(request)
    if not identity.fresh:
        raise _http(ReauthRequired())
    return identity


def _auth(request: Request) -> Any:
    return request.scope[APP_KEY].auth


def require_roles(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users with every one of the roles (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        identity = await current_identity(request)
        if not await _auth(request).has_roles(identity.user, *names):
            raise _http(Forbidden())
        return identity.user

    return dependency


def require_permissions(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users whose roles grant every permission (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        identity = await current_identity(request)
        if not await _auth(request).has_permissions(identity.user, *names):
            raise _http(Forbidden())
        return identity.user

    return dependency
