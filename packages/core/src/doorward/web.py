"""What endpoint handlers of every feature share: the call record, pages, cookies, ``next``.

Pure code used by both faces: handlers build ``HttpResponse`` objects through ``Web``
so every feature answers with the same cookies, page context and redirect rules.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
from ua_parser import parse as parse_user_agent

from doorward import _rules, i18n
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import (
    DoorwardError,
    NotAuthenticated,
    StoreUnavailable,
    ValidationFailed,
)
from doorward.http import Cookie, HttpRequest, HttpResponse, error_response
from doorward.i18n import N_, Moment
from doorward.redirects import safe_redirect
from doorward.settings import Settings
from doorward.tokens import CsrfTokens, SessionSnapshots

__all__ = ["Call", "CsrfToken", "RequestState", "Web", "checkbox"]

#: Where to go after a dead emailed link: (path start, page, link text).
_RETRY = (
    ("/reset/", "/reset", N_("Send me a new reset link")),
    ("/confirm/", "/confirm", N_("Send me a new confirmation link")),
    ("/change-email/", "/change-email", N_("Ask for the change again")),
    ("/login/link/", "/login/code", N_("Send me a new sign-in code")),
)
#: Submitted fields that may be echoed back into a re-rendered form (never passwords).
ECHOED_FIELDS = frozenset({"email", "new_email", "name", "remember", "next"})
#: The X-Frame-Options value matching a ``frame_ancestors`` setting, where there is one.
_FRAME_OPTIONS = {"'none'": "DENY", "'self'": "SAMEORIGIN"}


class CsrfToken(str):
    """The CSRF token in a page's context: a string (``{{ csrf_token }}``) that is also
    callable (``{{ csrf_token() }}``, as the adapters' template helper is called), so one
    layout serves the app's pages and doorward's."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


@attrs.frozen(kw_only=True)
class Call:
    """One endpoint call: the request, who made it, its parsed body and path parameters."""

    request: HttpRequest
    identity: Identity | None
    fields: dict[str, Any]
    as_json: bool
    params: dict[str, str]
    ip: str | None = None
    new_token: str | None = None

    @property
    def current(self) -> Identity:
        """The caller's identity (the endpoint's ``access`` already required one)."""
        if self.identity is None:
            raise NotAuthenticated
        return self.identity

    def field(self, name: str) -> Any:
        """A submitted field, ``None`` when absent (the flows check types: IV-02)."""
        return self.fields.get(name)


@attrs.define
class RequestState:
    """What doorward learned about one request; adapters keep it for the request's life.

    ``error`` is set when the store was down while identifying: the request is then
    anonymous for the app's own pages and auth routes answer 503 (FT-05).
    """

    identity: Identity | None = None
    cookies: list[Cookie] = attrs.field(factory=list)
    error: StoreUnavailable | None = None


class Web:
    """Pages, cookies and redirects of one site; features add their notices and messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.csrf = CsrfTokens(settings.secret_keys)
        self.session_cookie = settings.cookie_name(settings.session_cookie)
        self.remember_cookie = settings.cookie_name(settings.remember_cookie)
        self.snapshot_cookie = settings.cookie_name(settings.snapshot_cookie)
        #: Session snapshots, when ``Settings.session_snapshot_seconds`` turns them on.
        self.snapshots = (
            SessionSnapshots(settings.secret_keys) if settings.session_snapshot_seconds else None
        )
        self.csrf_cookie = settings.cookie_name(settings.csrf_cookie)
        self.mfa_cookie = settings.cookie_name(settings.mfa_cookie)
        self.trust_cookie = settings.cookie_name(settings.trust_cookie)
        self.notices: dict[str, str] = {}
        #: Values every page sees, set by features (the OAuth provider buttons).
        self.page_context: dict[str, Any] = {}
        self.echoed_fields = {*ECHOED_FIELDS, "username", *(f.name for f in settings.signup_fields)}
        self._own_hosts = frozenset({(urlsplit(settings.base_url).netloc or "").lower()})
        self._ancestors = " ".join(settings.frame_ancestors.split())
        self._frame_options = _FRAME_OPTIONS.get(self._ancestors)

    # -- cookies ---------------------------------------------------------------------------

    def cookie(self, name: str, value: str | None, max_age: int | None = None) -> Cookie:
        """A cookie of this site (``value=None`` deletes it), flags per SS-01."""
        return Cookie(name=name, value=value, max_age=max_age, secure=self.settings.cookie_secure)

    def session_cookies(self, issued: IssuedSession) -> list[Cookie]:
        """The cookies of a new login: the session, and remember-me when it was asked for."""
        cookies = [self.cookie(self.session_cookie, issued.token)]
        if issued.remember_token is not None:
            cookies.append(
                self.cookie(self.remember_cookie, issued.remember_token, issued.remember_max_age)
            )
        if self.snapshots is not None:  # the snapshot of the session this one replaces
            cookies.append(self.cookie(self.snapshot_cookie, None))
        return cookies

    def signed_out(self, response: HttpResponse) -> HttpResponse:
        """Clear the session and remember-me cookies (and a session snapshot) on ``response``."""
        response.cookies.append(self.cookie(self.session_cookie, None))
        response.cookies.append(self.cookie(self.remember_cookie, None))
        if self.snapshots is not None:
            response.cookies.append(self.cookie(self.snapshot_cookie, None))
        return response

    def with_csrf(
        self, request: HttpRequest, response: HttpResponse, *, rotate: bool = False
    ) -> HttpResponse:
        """Put a CSRF token in the page context, setting its cookie when needed."""
        cookie = None if rotate else request.cookies.get(self.csrf_cookie)
        if not cookie or len(cookie) > 128:
            cookie = self.csrf.new_cookie()
            response.cookies.append(self.cookie(self.csrf_cookie, cookie))
        response.context["csrf_token"] = CsrfToken(self.csrf.token_for(cookie))
        return response

    # -- redirects ---------------------------------------------------------------------------

    def safe_next(self, request: HttpRequest, target: object, fallback: str) -> str:
        """``target`` when it is safe to go to (CR-04), else ``fallback``.

        An absolute URL of this site (the host of ``base_url`` or of the request, as
        Starlette's ``requires(redirect=...)`` sends) is reduced to its path first.
        """
        if isinstance(target, str) and "://" in target[:10]:
            target = self._own_path(request, target)
        return safe_redirect(
            target, fallback=fallback, allowed_hosts=self.settings.allowed_redirect_hosts
        )

    def _own_path(self, request: HttpRequest, target: str) -> str:
        try:
            parts = urlsplit(target)
        except ValueError:
            return target
        own = self._own_hosts | {request.headers.get("host", "").lower()}
        if parts.scheme in {"http", "https"} and parts.netloc.lower() in own and "@" not in target:
            path = parts.path or "/"
            return path + (f"?{parts.query}" if parts.query else "")
        return target

    def next_target(self, call: Call, fallback: str) -> str:
        """The safe ``next`` of a form or query, or ``fallback``."""
        target = call.fields.get("next") or call.request.query.get("next")
        return self.safe_next(call.request, target, fallback)

    def secured(self, response: HttpResponse, *, token_in_url: bool = False) -> HttpResponse:
        """Add the headers every answer of doorward carries (HD-01..HD-03); return it.

        ``Cache-Control: no-store`` (every answer may carry user data, a token or a CSRF
        token), ``X-Content-Type-Options: nosniff``, framing refused per
        ``Settings.frame_ancestors``, and ``Referrer-Policy: no-referrer`` when the URL
        carries a token (``token_in_url``), so the token never leaks to another site.
        Headers a handler set itself are kept.
        """
        headers = response.headers
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Content-Security-Policy", f"frame-ancestors {self._ancestors}")
        if self._frame_options is not None:
            headers.setdefault("X-Frame-Options", self._frame_options)
        if token_in_url:
            headers["Referrer-Policy"] = "no-referrer"
        return response

    def redirect(self, path: str) -> HttpResponse:
        """303 to a page below the prefix."""
        return HttpResponse(status=303, redirect=self.settings.url_prefix + path)

    # -- pages -------------------------------------------------------------------------------

    def _base_context(self) -> dict[str, Any]:
        return {
            "prefix": self.settings.url_prefix,
            "site_name": self.settings.display_name,
            "notice": None,
            "errors": {},
            "alert": None,
            "message": None,
            "form": {},
            "next": "",
            "signup_fields": self.settings.signup_fields,
            "username_field": self.settings.username_field,
            "page_layout": self.settings.page_layout,
            **self.page_context,
        }

    def page(
        self, request: HttpRequest, page: str, *, status: int = 200, **context: Any
    ) -> HttpResponse:
        """A page with the site's context, a known ``?notice=`` and a CSRF token."""
        base = self._base_context()
        base["notice"] = self.notices.get(request.query.get("notice", ""))
        base["next"] = self.safe_next(request, request.query.get("next"), "")
        response = HttpResponse(status=status, page=page, context={**base, **context})
        return self.with_csrf(request, response)

    def refused_form(
        self,
        request: HttpRequest,
        page: str,
        fields: Mapping[str, Any],
        exc: DoorwardError,
        params: Mapping[str, str],
    ) -> HttpResponse:
        """The form ``page`` again, with the refused input (never passwords) and the errors."""
        response = error_response(exc, json_body=False)
        response.page = page
        form = {k: v for k, v in fields.items() if k in self.echoed_fields and isinstance(v, str)}
        response.context.update(
            self._base_context(),
            errors={k: list(v) for k, v in exc.fields.items()},
            alert=exc.message,
            form=form,
            next=form.get("next", ""),
            **params,
        )
        return self.with_csrf(request, response)

    def neutral(
        self, call: Call, message: str, *, title: str = N_("Check your inbox")
    ) -> HttpResponse:
        """202 with the same answer whatever the account's state (LE-03, LE-04)."""
        if call.as_json:
            return HttpResponse(status=202, json={"message": message})
        return self.page(
            call.request, "doorward/message.html", status=202, message=message, title=title
        )

    def error_page(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """The site's context on an error page, and a way on after a dead emailed link."""
        path = request.path.removeprefix(self.settings.url_prefix)
        retry = next(
            (
                {"path": page, "label": label}
                for start, page, label in _RETRY
                if path.startswith(start)
            ),
            None,
        )
        base = self._base_context()
        response.context = {**base, **response.context, "retry": retry}
        return response

    @staticmethod
    def localized(response: HttpResponse, lang: i18n.Language) -> HttpResponse:
        """``response`` in ``lang``: its marked texts and times translated (the JSON body
        or the page context; error codes stay as they are), and on pages the template
        helpers ``_``, ``ngettext``, ``when``, ``number`` and ``lang``."""
        if response.json is not None:
            response.json = lang.localize(response.json)
        if response.page is not None:
            response.context = {**lang.localize(response.context), **lang.context()}
        return response

    @staticmethod
    def user_json(user: Any, roles: frozenset[str] | None = None) -> dict[str, Any]:
        """``{"user": {...}}`` with the public fields only."""
        return {"user": _rules.public_user(user, roles)}


@functools.lru_cache(maxsize=1024)
def device(user_agent: str | None) -> str:
    """A short, readable name for a User-Agent, read by ua-parser: "Firefox on Linux"."""
    if not user_agent:
        return N_("an unknown device")
    found = parse_user_agent(user_agent[:512])
    agent = found.user_agent.family if found.user_agent is not None else None
    system = found.os.family if found.os is not None else None
    browser: str = agent if agent and agent != "Other" else N_("a browser or app")
    if system and system != "Other":
        return N_("%(browser)s on %(system)s", browser=browser, system=system)
    return browser


def when(iso: str | None) -> str:
    """An ISO time as people read it: "1 Jan 2030, 14:05 UTC" (a ``Moment``, which pages
    show in the request's locale)."""
    if not iso:
        return ""
    return Moment(datetime.fromisoformat(iso).astimezone(UTC))


def for_display(record: Mapping[str, Any]) -> dict[str, Any]:
    """A listed session or token with readable times and device, for pages."""
    shown = dict(record)
    for name in ("created_at", "last_used_at", "expires_at"):
        shown[f"{name}_display"] = when(record.get(name))
    shown["device"] = device(record.get("user_agent"))
    return shown


def checkbox(value: object, *, form: bool, field: str = "remember") -> bool:
    """A checkbox: a JSON boolean, or in a form absent/empty or one of on/true/1/yes."""
    if isinstance(value, bool):
        return value
    if form and isinstance(value, str) and value.lower() in {"", "on", "true", "1", "yes"}:
        return value != ""
    raise ValidationFailed({field: [N_("Must be true or false.")]})
