"""View decorators: the core's guard decides (browsers to the login page, JSON 401/403)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from flask import current_app

from doorward_flask._state import head_request, request_state, state, to_response

__all__ = [
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
]

F = TypeVar("F", bound=Callable[..., Any])


def _guard(
    *,
    fresh: bool = False,
    roles: Sequence[str] = (),
    any_roles: Sequence[str] = (),
    permissions: Sequence[str] = (),
) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            app = current_app._get_current_object()  # type: ignore[attr-defined]  # noqa: SLF001 (once, not per access)
            found = state(app)
            head = head_request()
            refusal = found.views.guard(
                head,
                request_state(found, head).identity,
                fresh=fresh,
                roles=roles,
                any_roles=any_roles,
                permissions=permissions,
            )
            if refusal is not None:
                return to_response(refusal)
            return app.ensure_sync(view)(*args, **kwargs)

        return cast("F", wrapper)

    return decorator


def login_required(view: F) -> F:
    """Only logged-in users (session, remember-me or API token)."""
    return _guard()(view)


def fresh_login_required(view: F) -> F:
    """Only sessions whose password was entered recently (SS-07)."""
    return _guard(fresh=True)(view)


def roles_required(*names: str) -> Callable[[F], F]:
    """Only users with every one of the roles."""
    return _guard(roles=names)


def roles_accepted(*names: str) -> Callable[[F], F]:
    """Only users with at least one of the roles."""
    return _guard(any_roles=names)


def permissions_required(*names: str) -> Callable[[F], F]:
    """Only users whose roles grant every one of the permissions."""
    return _guard(permissions=names)
