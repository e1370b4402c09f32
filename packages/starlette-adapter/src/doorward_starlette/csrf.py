"""CSRF protection for the app's own Starlette endpoints, decided by the core
(``AsyncViews.check_csrf``) as on Flask.

    @login_required
    @csrf_protect
    async def add_note(request): ...

Or every unsafe request of the app at once: ``Settings(csrf_protect_app=True)`` makes the
middleware check the app's routes too, except endpoints marked ``csrf_exempt`` (webhooks).
Forms carry ``csrf_token(request)`` in a ``csrf_token`` field; scripts send it in the
``X-CSRF-Token`` header (``GET /auth/csrf`` hands it out as JSON). FastAPI routes use the
``require_csrf`` dependency of ``doorward_starlette.fastapi``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from doorward.http import HttpResponse
from doorward_starlette.app import (
    CSRF_CHECKED,
    CSRF_EXEMPT,
    SCOPE_KEY,
    Refused,
    RequestState,
    head_request,
    request_state,
)
from doorward_starlette.guards import doorward_of

__all__ = ["check_csrf", "csrf_exempt", "csrf_protect", "csrf_token"]

E = TypeVar("E", bound=Callable[..., Awaitable[Response]])
C = TypeVar("C", bound=Callable[..., Any])

_TOKEN_KEY = "doorward.csrf_token"  # noqa: S105 (a scope key's name)


def csrf_token(connection: HTTPConnection) -> str:
    """The CSRF token for this request's forms and scripts; the response sets the CSRF
    cookie if the browser has none. Needs ``doorward.middleware()``.

    Pass it to your template as ``csrf_token``: it is a string that may also be called,
    so ``{{ csrf_token }}`` and ``{{ csrf_token() }}`` both work (as on doorward's pages).
    """
    found = connection.scope.get(_TOKEN_KEY)
    if isinstance(found, str):
        return found
    doorward = doorward_of(connection)
    made = doorward.views.web.with_csrf(head_request(connection), HttpResponse())
    state = connection.scope.get(SCOPE_KEY)
    if isinstance(state, RequestState):  # the middleware adds its cookies to the response
        state.cookies.extend(made.cookies)
    token: str = made.context["csrf_token"]
    connection.scope[_TOKEN_KEY] = token
    return token


async def check_csrf(request: Request, *, as_json: bool | None = None) -> None:
    """Raise ``Refused`` (403 ``csrf_failed``) unless the request may go on: a safe method,
    a bearer-token request, or the right token in the ``X-CSRF-Token`` header or in the
    ``csrf_token`` field of a form body (read with ``request.form()``, which the endpoint
    can call again; an urlencoded body also stays readable with ``request.body()``).
    ``as_json`` forces a JSON refusal."""
    doorward = doorward_of(request)
    state = await request_state(doorward, request)
    head = head_request(request)
    form_token = None
    if doorward.views.csrf_reads_form(head):
        try:
            if head.content_type != "multipart/form-data":
                # kept, so the endpoint may still read the body; a body already read as a
                # form (FastAPI's ``Form()`` parameters) is no longer there, the form is
                with contextlib.suppress(RuntimeError):
                    await request.body()
            value = (await request.form()).get("csrf_token")
        except Exception:  # noqa: BLE001 (a body that is no valid form carries no token)
            value = None
        form_token = value if isinstance(value, str) else None
    refused = doorward.views.check_csrf(
        head, state.identity, form_token=form_token, as_json=as_json
    )
    if refused is not None:
        raise Refused(refused)


def csrf_protect(endpoint: E) -> E:
    """Refuse unsafe requests to this endpoint without a valid CSRF token (403
    ``csrf_failed``: JSON for JSON clients, the error page for browsers). GET, HEAD,
    OPTIONS, TRACE and requests authenticated by a bearer token pass.

    It decorates an endpoint function or a method of an ``HTTPEndpoint`` (``post``,
    ``put``, ...), not the class; ``Settings.csrf_protect_app`` covers every route.
    """
    if isinstance(endpoint, type):
        raise TypeError(
            f"csrf_protect decorates an endpoint function or the methods of {endpoint.__name__}"
            " (post, put, patch, delete), not the class"
        )

    @functools.wraps(endpoint)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        request = next(a for a in (*args, *kwargs.values()) if isinstance(a, Request))
        try:
            await check_csrf(request)
        except Refused as refused:
            return doorward_of(request).to_response(request, refused.response)
        return await endpoint(*args, **kwargs)

    setattr(wrapper, CSRF_CHECKED, True)
    return cast("E", wrapper)


def csrf_exempt(endpoint: C) -> C:
    """Leave this endpoint (a Starlette endpoint or a FastAPI path function) out of the
    app-wide check (``csrf_protect_app``): for requests no browser sends with the user's
    cookies, such as a payment provider's webhook."""
    setattr(endpoint, CSRF_EXEMPT, True)
    return endpoint
