"""View decorators: JSON 401/403 for API clients, redirects to the login page for browsers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import quote

from flask import current_app, request

from doorward.exceptions import DoorwardError, Forbidden, NotAuthenticated, ReauthRequired
from doorward.http import HttpResponse, error_response, wants_json
from doorward_flask.extension import _head_request, current_identity, state, to_response

__all__ = [
    "fresh_login_required",
    "login_required",
    "permissions_required",
    "roles_accepted",
    "roles_required",
]

F = TypeVar("F", bound=Callable[..., Any])


def _refuse(exc: DoorwardError) -> Any:
    as_json = wants_json(_head_request())
    prefix = state().settings.url_prefix
    if not as_json and isinstance(exc, NotAuthenticated | ReauthRequired):
        page = "/reauth" if isinstance(exc, ReauthRequired) else "/login"
        target = request.full_path.rstrip("?")
        return to_response(
            HttpResponse(status=303, redirect=f"{prefix}{page}?next={quote(target)}")
        )
    return to_response(error_response(exc, json_body=as_json))


def _guard(check: Callable[[Any], None]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            try:
                if identity is None:
                    raise NotAuthenticated
                check(identity)
            except DoorwardError as exc:
                return _refuse(exc)
            return current_app.ensure_sync(view)(*args, **kwargs)

        return cast("F", wrapper)

    return decorator


def login_required(view: F) -> F:
    """Only logged-in users (session, remember-me or API token)."""
    return _guard(lambda _identity: None)(view)


def fresh_login_required(view: F) -> F:
    """Only sessions whose password was entered recently (SS-07)."""

    def check(identity: Any) -> None:
        state().auth.require_fresh(identity)

    return _guard(check)(view)


def roles_required(*names: str) -> Callable[[F], F]:
    """Only users with every one of the roles."""

    def check(identity: Any) -> None:
        if not state().auth.has_roles(identity.user, *names):
            raise Forbidden

    return _guard(check)


def roles_accepted(*names: str) -> Callable[[F], F]:
    """Only users with at least one of the roles."""

    def check(identity: Any) -> None:
        if not state().auth.has_any_role(identity.user, *names):
            raise Forbidden

    return _guard(check)


def permissions_required(*names: str) -> Callable[[F], F]:
    """Only users whose roles grant every one of the permissions."""

    def check(identity: Any) -> None:
        if not state().auth.has_permissions(identity.user, *names):
            raise Forbidden

    return _guard(check)
