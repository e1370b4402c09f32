"""The HTTP contract's framework-neutral half: request and response records, body
parsing, content negotiation, cookies and the error table.

An adapter turns its framework's request into an ``HttpRequest``, calls the views
(``doorward.AsyncViews`` / ``doorward.Views``) and turns the ``HttpResponse`` back, so
Flask and Starlette behave the same byte for byte. See ``docs/http-api.md``.
"""

from __future__ import annotations

import json
import math
import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs

from doorward.exceptions import (
    DoorwardError,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
    ValidationFailed,
)
from doorward.i18n import N_
from doorward.settings import Settings

__all__ = [
    "Cookie",
    "HeadersOnDemand",
    "HttpRequest",
    "HttpResponse",
    "error_response",
    "parse_body",
    "wants_json",
]

_URL_SAFE = re.compile(r"[A-Za-z0-9._-]*")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Methods that change nothing (RFC 9110 §9.2.1): the only ones without a CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class HeadersOnDemand(Mapping[str, str]):
    """``HttpRequest.headers`` read from the framework's request when asked: identifying a
    request reads one or two headers, so the whole set is only gathered when something
    iterates it. An adapter gives ``get`` (one header by name, any case) and ``gather``
    (all of them, names lower case); the rest of the mapping follows from those two.
    """

    __slots__ = ("_all",)

    def __init__(self) -> None:
        self._all: dict[str, str] | None = None

    @abstractmethod
    def get(self, name: str, default: Any = None) -> Any:
        """The value of header ``name`` (any case), else ``default``."""

    @abstractmethod
    def gather(self) -> dict[str, str]:
        """Every header, names lower case."""

    def _gathered(self) -> dict[str, str]:
        if self._all is None:
            self._all = self.gather()
        return self._all

    def __getitem__(self, name: str) -> str:
        found: str | None = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._gathered())

    def __len__(self) -> int:
        return len(self._gathered())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._gathered()!r})"


@attrs.frozen(kw_only=True)
class HttpRequest:
    """What the views need of a request. Header names are lower case.

    ``form`` is set by adapters that parsed a multipart body themselves; otherwise the
    views parse ``body`` according to ``content-type``.
    """

    method: str
    path: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    cookies: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    form: Mapping[str, str] | None = None
    remote_addr: str | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def target(self) -> str:
        """The path with its query, as a same-origin ``next`` back to this request."""
        return self.path + (f"?{urlencode(dict(self.query))}" if self.query else "")

    @property
    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header; never read from the query (TK-09)."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@attrs.frozen(kw_only=True)
class Cookie:
    """A cookie to set (``value``) or delete (``value=None``), flags per SS-01."""

    name: str
    value: str | None
    max_age: int | None = None
    http_only: bool = True
    secure: bool = True
    same_site: str = "Lax"
    path: str = "/"

    def header(self) -> str:
        """The ``Set-Cookie`` header value; adapters add it as is."""
        value = self.value if self.value is not None else ""
        if not (_URL_SAFE.fullmatch(self.name) and _URL_SAFE.fullmatch(value)):
            raise ValueError("cookie names and values are URL-safe tokens")
        parts = [f"{self.name}={value}"]
        if self.value is None:
            parts += ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        elif self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        parts.append(f"Path={self.path}")
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.same_site}")
        return "; ".join(parts)


@attrs.define(kw_only=True)
class HttpResponse:
    """What to answer: JSON, an HTML page to render, or a redirect, plus cookies and headers.

    ``page`` names a template under ``doorward/templates/html`` such as
    ``doorward/login.html`` (the adapters render it with Jinja2, so an application
    overrides it by putting a file of that name first on its template path);
    ``context`` is its variables.
    """

    status: int = 200
    json: Any = None
    page: str | None = None
    context: dict[str, Any] = attrs.field(factory=dict)
    redirect: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    cookies: list[Cookie] = attrs.field(factory=list)


def wants_json(request: HttpRequest) -> bool:
    """JSON when the body is JSON or ``Accept`` prefers JSON to HTML; else HTML pages."""
    if request.content_type == "application/json":
        return True
    accept = request.headers.get("accept", "")
    best_json = _quality(accept, ("application/json",))
    best_html = _quality(accept, ("text/html", "application/xhtml+xml"))
    return best_json > 0 and best_json >= best_html


def _quality(accept: str, types: tuple[str, ...]) -> float:
    best = 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() not in types:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def parse_body(request: HttpRequest, settings: Settings) -> dict[str, Any]:
    """The fields of a JSON object or form body (CR-03: nothing else is accepted).

    An empty body is an empty object. JSON values keep their types (the flows check them:
    IV-02); form values are strings.
    """
    if len(request.body) > settings.max_body_size:
        raise PayloadTooLarge
    if request.form is not None:
        return dict(request.form)
    if not request.body:
        if request.content_type in ("", "application/json", *FORM_TYPES):
            return {}
        raise UnsupportedMediaType
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ValidationFailed({"body": [N_("The body is not valid JSON.")]}) from None
        if not isinstance(data, dict):
            raise ValidationFailed({"body": [N_("The body must be a JSON object.")]})
        return data
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            text = request.body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise ValidationFailed({"body": [N_("The form is not valid.")]}) from None
        return dict(pairs)
    raise UnsupportedMediaType


def error_response(exc: DoorwardError, *, json_body: bool) -> HttpResponse:
    """The contract's error answer: status from the error, body ``{"error": {...}}``."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, Overloaded):
        headers["Retry-After"] = "1"
    body = exc.to_dict()
    if json_body:
        return HttpResponse(status=exc.status, json=body, headers=headers)
    return HttpResponse(
        status=exc.status,
        page="doorward/error.html",
        context={"error": body["error"]},
        headers=headers,
    )
