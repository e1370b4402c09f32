"""CSRF protection for the app's own views, decided by the core (``Views.check_csrf``).

    @app.post("/projects")
    @login_required
    @csrf_protect
    def add_project(): ...

Or every unsafe request of the app at once: ``DOORWARD_CSRF_PROTECT_APP = True`` (the
``csrf_protect_app`` setting), with ``csrf_exempt`` for the views that take no browser's
request (webhooks). Forms carry ``{{ csrf_token() }}`` in a ``csrf_token`` field; scripts
send it in the ``X-CSRF-Token`` header (``GET /auth/csrf`` hands it out as JSON).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, request

from doorward.http import HttpResponse
from doorward_flask._state import current_identity, head_request, request_state, state, to_response

__all__ = ["csrf_exempt", "csrf_protect", "csrf_token"]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute ``csrf_exempt`` sets on a view function.
_EXEMPT = "_doorward_csrf_exempt"


def csrf_token() -> str:
    """The CSRF token for the current request's forms and scripts (also the template
    global ``csrf_token()``); the response sets the CSRF cookie if the browser has none."""
    found: str | None = g.get("_doorward_csrf")
    if found is None:
        made = state().views.web.with_csrf(head_request(), HttpResponse())
        request_state().cookies.extend(made.cookies)
        found = made.context["csrf_token"]
        g._doorward_csrf = found  # noqa: SLF001 (Flask's advice for extension data on g)
    return found


def _refusal() -> Response | None:
    """The refusal of the current request when its CSRF token is missing or wrong."""
    views = state().views
    head = head_request()
    form_token = request.form.get("csrf_token") if views.csrf_reads_form(head) else None
    refused = views.check_csrf(head, current_identity(), form_token=form_token)
    return to_response(refused) if refused is not None else None


def csrf_protect(view: F) -> F:
    """Refuse unsafe requests to this view without a valid CSRF token (403 ``csrf_failed``:
    JSON for JSON clients, the error page for browsers). GET, HEAD, OPTIONS, TRACE and
    requests authenticated by a bearer token pass."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refused = _refusal()
        if refused is not None:
            return refused
        return current_app.ensure_sync(view)(*args, **kwargs)

    return cast("F", wrapper)


def csrf_exempt(view: F) -> F:
    """Leave this view out of the app-wide check (``csrf_protect_app``): for requests no
    browser sends with the user's cookies, such as a payment provider's webhook."""
    setattr(view, _EXEMPT, True)
    return view


def protect_app_request() -> Response | None:
    """The ``before_request`` hook of ``csrf_protect_app``: every unsafe request outside
    the auth routes (which check their own) to a view not marked ``csrf_exempt``."""
    if state().settings.is_auth_path(request.path):
        return None
    if request.routing_exception is not None:  # Flask answers 404 or 405 next
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, _EXEMPT, False):
        return None
    return _refusal()
