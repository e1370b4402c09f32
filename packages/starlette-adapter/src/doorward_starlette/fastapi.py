"""FastAPI dependencies (FastAPI itself is not a dependency of this package).

from doorward_starlette.fastapi import current_user, require_roles

@app.get("/me")
async def me(user = Depends(current_user)): ...

@app.get("/admin", dependencies=[Depends(require_roles("admin"))])
async def admin(): ...

Refusals are the core's: 401/403 with the contract's ``{"error": {...}}`` body (the
middleware answers them). They are always JSON, as a FastAPI route is an API; for pages,
use the decorators of ``doorward_starlette`` (browsers go to the login page and back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from doorward import Identity
from doorward_starlette.app import APP_KEY, SCOPE_KEY, RequestState
from doorward_starlette.guards import check

__all__ = [
    "current_identity",
    "current_user",
    "optional_user",
    "require_fresh",
    "require_permissions",
    "require_roles",
]


async def current_identity(request: Request) -> Identity:
    """The request's identity; 401 when anonymous."""
    return await check(request, as_json=True)


async def current_user(request: Request) -> Any:
    """The application's user object; 401 when anonymous."""
    return (await check(request, as_json=True)).user


async def optional_user(request: Request) -> Any | None:
    """The application's user object, or ``None``."""
    state = request.scope.get(SCOPE_KEY)
    if APP_KEY not in request.scope or not isinstance(state, RequestState):
        raise RuntimeError("add doorward.middleware() to the app's middleware")
    return state.identity.user if state.identity is not None else None


async def require_fresh(request: Request) -> Identity:
    """A session whose password was entered recently; 401 ``reauth_required`` otherwise."""
    return await check(request, fresh=True, as_json=True)


def require_roles(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users with every one of the roles (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        return (await check(request, roles=names, as_json=True)).user

    return dependency


def require_permissions(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users whose roles grant every permission (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        return (await check(request, permissions=names, as_json=True)).user

    return dependency
