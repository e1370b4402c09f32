"""Guards for the app's own Starlette endpoints, decided by the core as on Flask.

    @login_required
    async def account(request): ...

    @roles_required("admin")
    async def admin(request): ...

A browser that is not logged in goes to the login page and comes back after logging in;
JSON clients get 401/403 with the contract's ``{"error": {...}}`` body. Starlette's own
``requires(..., redirect=...)`` keeps working too: its absolute ``next`` is accepted when
it points to this site.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from doorward import Identity
from doorward.exceptions import NotAuthenticated
from doorward_starlette.app import APP_KEY, Doorward, Refused, head_request, request_state

__all__ = [
    "check",
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
]

E = TypeVar("E", bound=Callable[..., Awaitable[Response]])


def doorward_of(connection: HTTPConnection) -> Doorward:
    """The ``Doorward`` whose middleware handled this request."""
    found = connection.scope.get(APP_KEY)
    if not isinstance(found, Doorward):
        raise RuntimeError("add doorward.middleware() to the app's middleware")  # noqa: TRY004
    return found


async def check(
    connection: HTTPConnection,
    *,
    fresh: bool = False,
    roles: Sequence[str] = (),
    any_roles: Sequence[str] = (),
    permissions: Sequence[str] = (),
    as_json: bool | None = None,
) -> Identity:
    """The request's identity if the guard lets it in; else ``Refused`` with the answer.

    ``as_json`` forces JSON refusals (for APIs) instead of negotiating with ``Accept``.
    """
    doorward = doorward_of(connection)
    state = await request_state(doorward, connection)
    head = head_request(connection)
    if state.error is not None:
        raise Refused(doorward.views.failure(head, state.error, as_json=as_json))
    refusal = await doorward.views.guard(
        head,
        state.identity,
        fresh=fresh,
        roles=roles,
        any_roles=any_roles,
        permissions=permissions,
        as_json=as_json,
    )
    if refusal is not None or state.identity is None:
        raise Refused(refusal or doorward.views.refusal(head, NotAuthenticated(), as_json=as_json))
    return state.identity


def _guard(**rules: Any) -> Callable[[E], E]:
    def decorator(endpoint: E) -> E:
        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Response:
            request = next(a for a in (*args, *kwargs.values()) if isinstance(a, Request))
            try:
                await check(request, **rules)
            except Refused as refused:
                return doorward_of(request).to_response(request, refused.response)
            return await endpoint(*args, **kwargs)

        return cast("E", wrapper)

    return decorator


def login_required(endpoint: E) -> E:
    """Only logged-in users (session, remember-me or API token)."""
    return _guard()(endpoint)


def fresh_login_required(endpoint: E) -> E:
    """Only sessions whose password was entered recently (SS-07)."""
    return _guard(fresh=True)(endpoint)


def roles_required(*names: str) -> Callable[[E], E]:
    """Only users with every one of the roles."""
    return _guard(roles=names)


def roles_accepted(*names: str) -> Callable[[E], E]:
    """Only users with at least one of the roles."""
    return _guard(any_roles=names)


def permissions_required(*names: str) -> Callable[[E], E]:
    """Only users whose roles grant every one of the permissions."""
    return _guard(permissions=names)
