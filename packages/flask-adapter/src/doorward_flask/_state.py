"""Per-app and per-request state of the extension, and the werkzeug ⇄ core translation.

Kept apart from ``extension.py`` so the CLI, the proxies and the decorators import it
without importing each other.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from flask import Flask, Response, current_app, g, render_template, request
from werkzeug.http import parse_cookie

from doorward import Auth, Identity, RequestState, Settings, Views
from doorward.exceptions import PayloadTooLarge
from doorward.http import HeadersOnDemand, HttpRequest, HttpResponse

__all__ = ["EXTENSION_KEY", "current_identity", "request_state", "state", "to_response"]

EXTENSION_KEY = "doorward"


@attrs.define
class AppState:
    """What ``init_app`` built for one Flask app (``app.extensions["doorward"]``)."""

    auth: Auth
    views: Views
    settings: Settings


def state(app: Flask | None = None) -> AppState:
    """The extension state of ``app`` (the current app by default)."""
    target = app or current_app
    try:
        found: AppState = target.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "doorward is not set up on this app: did you forget Doorward(app, store=...)?"
        ) from None
    return found


_HEAD_KEY = "doorward.head_request"
_CONTENT = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_NOT_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Headers a new response of the response class may already have.
_SET_BY_RESPONSE = frozenset({"content-type", "content-length", "location"})


class _EnvironHeaders(HeadersOnDemand):
    """The request's headers as werkzeug's ``EnvironHeaders`` gives them (lower-case
    names), read from the WSGI environ when asked."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__()
        self._environ = environ

    def get(self, name: str, default: Any = None) -> Any:
        key = name.upper().replace("-", "_")
        if key in _CONTENT:
            return self._environ.get(key) or default
        return self._environ.get("HTTP_" + key, default)

    def gather(self) -> dict[str, str]:
        headers = {}
        for key, value in self._environ.items():
            if key.startswith("HTTP_"):
                if key not in _NOT_HEADERS:
                    headers[key[5:].replace("_", "-").lower()] = value
            elif key in _CONTENT and value:
                headers[key.replace("_", "-").lower()] = value
        return headers


def head_request() -> HttpRequest:
    """What authentication and guards need: method, path and query, headers, cookies, address.

    Built once per request (identification and the guards share it).
    """
    current = request._get_current_object()  # type: ignore[attr-defined]  # noqa: SLF001
    environ = current.environ
    found: HttpRequest | None = environ.get(_HEAD_KEY)
    if found is not None:
        return found
    cookie = environ.get("HTTP_COOKIE")
    found = HttpRequest(
        method=current.method,
        path=current.path,
        headers=_EnvironHeaders(environ),
        # as request.cookies parses them, without going through the headers again
        cookies=dict(parse_cookie(cookie)) if cookie else {},
        query=dict(current.args.items()) if environ.get("QUERY_STRING") else {},
        remote_addr=current.remote_addr,
    )
    environ[_HEAD_KEY] = found
    return found


def full_request(settings: Settings) -> HttpRequest:
    """The current request with its body, read with a size cap."""
    head = head_request()
    if head.method not in _WITH_BODY:
        return head
    current = request._get_current_object()  # type: ignore[attr-defined]  # noqa: SLF001
    length = current.content_length
    if length is not None and length > settings.max_body_size:
        raise PayloadTooLarge
    if current.mimetype == "multipart/form-data":
        current.max_content_length = settings.max_body_size
        return attrs.evolve(head, form=dict(current.form.items()))
    return attrs.evolve(head, body=current.stream.read(settings.max_body_size + 1))


def request_state(
    app_state: AppState | None = None, head: HttpRequest | None = None
) -> RequestState:
    """Who made the current request, identified on first use (as flask-login does).

    ``app_state`` and ``head``: the current app's state and ``head_request()``, when the
    caller has them already.
    """
    current = g._get_current_object()  # noqa: SLF001 (once, not per access)
    found: RequestState | None = current.get("_doorward")
    if found is None:
        views = (app_state or state()).views
        found = views.request_state(head or head_request())
        current._doorward = found  # noqa: SLF001 (Flask's advice for extension data on g)
    return found


def current_identity() -> Identity | None:
    """Who made the current request (``None`` if anonymous or if the store is down)."""
    return request_state().identity


def loaded_identity() -> Identity | None:
    """``current_identity`` with the application's user object: when a session snapshot
    identified the request (``Settings.session_snapshot_seconds``), the session and its
    user are read from the store, once per request (``None`` if it ended meanwhile)."""
    identity = current_identity()
    if identity is None or not identity.snapshot:
        return identity
    if "_doorward_loaded" not in g:
        loaded = state().views.loaded_identity(head_request(), identity)
        g._doorward_loaded = loaded  # noqa: SLF001 (Flask's advice for extension data on g)
    found: Identity | None = g._doorward_loaded  # noqa: SLF001 (as above)
    return found


def apply_cookies(response: Response) -> Response:
    """Add the cookies identification decided (a remember-me restore, a stale cookie)."""
    found: RequestState | None = g.get("_doorward")
    if found is None or not found.cookies:
        return response
    already = {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}
    for cookie in found.cookies:
        if cookie.name not in already:
            response.headers.add("Set-Cookie", cookie.header())
    return response


def to_response(result: HttpResponse) -> Response:
    """A Flask response for a core ``HttpResponse``."""
    if result.redirect is not None:
        response = current_app.response_class(status=result.status)
        response.headers["Location"] = result.redirect
    elif result.page is not None:
        html = render_template(result.page, **result.context)
        response = current_app.response_class(html, status=result.status, mimetype="text/html")
    elif result.status == 204 or result.json is None:
        response = current_app.response_class(status=result.status)
    else:
        response = current_app.response_class(
            json.dumps(result.json), status=result.status, mimetype="application/json"
        )
    headers = response.headers
    replaced = set(_SET_BY_RESPONSE)
    for name, value in result.headers.items():
        key = name.lower()
        if key in replaced:
            headers[name] = value
        else:  # none of that name yet: ``add`` answers as ``set`` would, without the search
            headers.add(name, value)
            replaced.add(key)
    for cookie in result.cookies:
        headers.add("Set-Cookie", cookie.header())
    return response
