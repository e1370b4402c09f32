"""FastAPI dependencies (FastAPI itself is not a dependency of this package).

from doorward_starlette.fastapi import current_user, require_roles

@app.get("/me")
async def me(user = Depends(current_user)): ...

@app.get("/admin", dependencies=[Depends(require_roles("admin"))])
async def admin(): ...

``include_openapi(app, doorward)`` adds doorward's routes to FastAPI's ``/openapi.json``
and so to ``/docs``.

Refusals are the core's: 401/403 with the contract's ``{"error": {...}}`` body (the
middleware answers them). They are always JSON, as a FastAPI route is an API; for pages,
use the decorators of ``doorward_starlette`` (browsers go to the login page and back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request

from doorward import Identity
from doorward.exceptions import NotAuthenticated
from doorward_starlette.app import (
    APP_KEY,
    SCOPE_KEY,
    Doorward,
    Refused,
    RequestState,
    head_request,
)
from doorward_starlette.csrf import check_csrf
from doorward_starlette.guards import check

__all__ = [
    "current_identity",
    "current_user",
    "include_openapi",
    "optional_user",
    "require_csrf",
    "require_fresh",
    "require_permissions",
    "require_roles",
]


async def current_identity(request: Request) -> Identity:
    """The request's identity; 401 when anonymous."""
    return await check(request, as_json=True)


async def current_user(request: Request) -> Any:
    """The application's user object; 401 when anonymous."""
    return await _user_of(request, await check(request, as_json=True))


async def optional_user(request: Request) -> Any | None:
    """The application's user object, or ``None``."""
    state = request.scope.get(SCOPE_KEY)
    if APP_KEY not in request.scope or not isinstance(state, RequestState):
        raise RuntimeError("add doorward.middleware() to the app's middleware")
    if state.identity is None:
        return None
    return await _user_of(request, state.identity)


async def _user_of(request: Request, identity: Identity) -> Any:
    """``identity``'s user: the application's object, read from the store when a session
    snapshot identified the request (``Doorward.load_user``)."""
    if not identity.snapshot:
        return identity.user
    doorward: Doorward = request.scope[APP_KEY]
    user = await doorward.load_user(request)
    if user is None:  # the session ended since the snapshot was made: the store decides
        refusal = doorward.views.refusal(head_request(request), NotAuthenticated(), as_json=True)
        raise Refused(refusal)
    return user


async def require_csrf(request: Request) -> None:
    """The CSRF token (CR-01) for a state-changing route: 403 ``csrf_failed`` without it.

    In the ``X-CSRF-Token`` header, or the ``csrf_token`` field of a form; requests
    authenticated by a bearer token and safe methods (GET, HEAD, OPTIONS, TRACE) pass.
    """
    await check_csrf(request, as_json=True)


async def require_fresh(request: Request) -> Identity:
    """A session whose password was entered recently; 401 ``reauth_required`` otherwise."""
    return await check(request, fresh=True, as_json=True)


def require_roles(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users with every one of the roles (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        return await _user_of(request, await check(request, roles=names, as_json=True))

    return dependency


def require_permissions(*names: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that lets in users whose roles grant every permission (403 otherwise)."""

    async def dependency(request: Request) -> Any:
        return await _user_of(request, await check(request, permissions=names, as_json=True))

    return dependency


def include_openapi(app: FastAPI, doorward: Doorward, *, tag: str = "auth") -> None:
    """Merge doorward's OpenAPI document into the app's (``/openapi.json``, ``/docs``).

    Its paths are added under ``tag``; its schemas and security schemes are renamed
    ``Doorward…`` so they never collide with the app's own. The app's document is built
    once, as FastAPI does, on first request.
    """
    build = app.openapi

    def merged() -> dict[str, Any]:
        if app.openapi_schema is not None and app.openapi_schema.get("x-doorward"):
            return app.openapi_schema
        schema = dict(build())
        ours = _renamed(doorward.views.openapi_document())
        paths = dict(schema.get("paths", {}))
        for path, item in ours["paths"].items():
            paths[path] = {
                method: {**operation, "tags": [tag]} for method, operation in item.items()
            }
        components = dict(schema.get("components", {}))
        for part in ("schemas", "securitySchemes"):
            components[part] = {**components.get(part, {}), **ours["components"].get(part, {})}
        schema.update(paths=paths, components=components)
        schema["x-doorward"] = True
        app.openapi_schema = schema
        return schema

    app.openapi = merged  # type: ignore[method-assign]  # FastAPI's documented override


def _renamed(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with components (and the references to them) prefixed."""
    components = document.get("components", {})
    names = {
        part: {name: f"Doorward{name[:1].upper()}{name[1:]}" for name in components.get(part, {})}
        for part in ("schemas", "securitySchemes")
    }

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            if key == "security":
                return [
                    {names["securitySchemes"].get(n, n): s for n, s in r.items()} for r in value
                ]
            return [walk(v) for v in value]
        if key == "$ref" and isinstance(value, str):
            prefix, _, name = value.rpartition("/")
            if prefix == "#/components/schemas":
                return f"{prefix}/{names['schemas'].get(name, name)}"
        return value

    copied = walk(document)
    copied["components"] = {
        part: {names[part][n]: walk(v) for n, v in components.get(part, {}).items()}
        for part in ("schemas", "securitySchemes")
    }
    return dict(copied)
