"""The HTTP contract, framework-neutral: every route of ``docs/http-api.md``.

Adapters register ``ROUTES`` under ``Settings.url_prefix``, build an ``HttpRequest``,
call ``identify`` once per request and ``dispatch`` for these routes, and apply the
``HttpResponse``. All decisions (status codes, CSRF, negotiation, redirects, cookies) are
made here, once, so every adapter answers the same. ``Views`` is the generated sync twin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import attrs

from doorward import _rules
from doorward._async.service import AsyncAuth
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import (
    CsrfFailed,
    DoorwardError,
    NotAuthenticated,
    ValidationFailed,
)
from doorward.http import (
    UNSAFE_METHODS,
    Cookie,
    HttpRequest,
    HttpResponse,
    error_response,
    parse_body,
    wants_json,
)
from doorward.policies import client_ip
from doorward.redirects import safe_redirect
from doorward.tokens import CsrfTokens

__all__ = ["ROUTES", "AsyncViews"]

#: (method, path below the prefix, endpoint). Paths use ``{name}`` parameters.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/csrf", "csrf"),
    ("GET", "/register", "register_page"),
    ("POST", "/register", "register"),
    ("GET", "/confirm", "confirm_page"),
    ("POST", "/confirm", "send_confirmation"),
    ("GET", "/confirm/{token}", "confirm_token_page"),
    ("POST", "/confirm/{token}", "confirm"),
    ("GET", "/login", "login_page"),
    ("POST", "/login", "login"),
    ("POST", "/logout", "logout"),
    ("POST", "/logout-everywhere", "logout_everywhere"),
    ("GET", "/me", "me"),
    ("GET", "/reset", "forgot_page"),
    ("POST", "/reset", "forgot_password"),
    ("GET", "/reset/{token}", "reset_page"),
    ("POST", "/reset/{token}", "reset_password"),
    ("GET", "/change-password", "change_password_page"),
    ("POST", "/change-password", "change_password"),
    ("GET", "/change-email", "change_email_page"),
    ("POST", "/change-email", "request_email_change"),
    ("GET", "/change-email/{token}", "change_email_token_page"),
    ("POST", "/change-email/{token}", "confirm_email_change"),
    ("GET", "/reauth", "reauth_page"),
    ("POST", "/reauth", "reauth"),
    ("GET", "/tokens", "list_tokens"),
    ("POST", "/tokens", "issue_token"),
    ("DELETE", "/tokens/{token_id}", "revoke_token"),
    ("POST", "/tokens/{token_id}/revoke", "revoke_token"),
    ("GET", "/sessions", "list_sessions"),
    ("DELETE", "/sessions/{session_id}", "revoke_session"),
    ("POST", "/sessions/{session_id}/revoke", "revoke_session"),
)

#: The page each form endpoint re-renders when its input is refused.
FORM_PAGES = {
    "register": "doorward/register.html",
    "send_confirmation": "doorward/confirm.html",
    "confirm": "doorward/confirm_token.html",
    "login": "doorward/login.html",
    "forgot_password": "doorward/forgot.html",
    "reset_password": "doorward/reset.html",
    "change_password": "doorward/change_password.html",
    "request_email_change": "doorward/change_email.html",
    "confirm_email_change": "doorward/change_email_token.html",
    "reauth": "doorward/reauth.html",
    "issue_token": "doorward/tokens.html",
}
#: Submitted fields that may be echoed back into a re-rendered form (never passwords).
ECHOED_FIELDS = ("email", "new_email", "name", "remember", "next")
#: Notices a page may show, by code (``?notice=``); nothing else from the query is shown.
NOTICES = {
    "confirmed": "Your email address is confirmed. You can log in now.",
    "password_reset": "Your password was changed. Please log in with the new one.",
    "email_changed": "Your email address was changed. Please log in again.",
    "logged_out": "You are logged out.",
}
NEUTRAL = {
    "register": "Thanks! If this address can be used, we sent a confirmation link to it.",
    "send_confirmation": "If this address has an unconfirmed account, we sent a new link.",
    "forgot_password": "If this address has an account, we sent a link to reset the password.",
    "request_email_change": "We sent a confirmation link to the new address.",
}


@attrs.frozen(kw_only=True)
class Call:
    """One endpoint call: the request, who made it, its parsed body and path parameters."""

    request: HttpRequest
    identity: Identity | None
    fields: dict[str, Any]
    as_json: bool
    params: dict[str, str]
    new_token: str | None = None


class AsyncViews:
    """The contract's endpoints over one ``AsyncAuth``."""

    def __init__(self, auth: AsyncAuth) -> None:
        self.auth = auth
        self.settings = auth.settings
        self.csrf = CsrfTokens(auth.settings.secret_keys)
        names = self.settings
        self.session_cookie = names.cookie_name(names.session_cookie)
        self.remember_cookie = names.cookie_name(names.remember_cookie)
        self.csrf_cookie = names.cookie_name(names.csrf_cookie)

    # -- per request ---------------------------------------------------------------------------

    def client_ip(self, request: HttpRequest) -> str | None:
        """The client's address, trusting X-Forwarded-For only as configured (RL-06)."""
        return client_ip(
            request.remote_addr,
            request.headers.get("x-forwarded-for"),
            self.settings.trusted_proxy_count,
        )

    async def identify(self, request: HttpRequest) -> tuple[Identity | None, list[Cookie]]:
        """Authenticate a request; also the cookies to set or clear on its response.

        Never raises for bad credentials: a broken or stale cookie is anonymous and is
        cleared. A store failure propagates (``StoreUnavailable``); adapters then treat the
        request as anonymous for their own pages and answer 503 on auth routes (FT-05).
        """
        session = request.cookies.get(self.session_cookie)
        remember = request.cookies.get(self.remember_cookie)
        bearer = request.bearer_token
        restoring = remember is not None and bearer is None
        identity = await self.auth.authenticate(
            session_token=session if bearer is None else None,
            remember_token=remember if bearer is None else None,
            bearer_token=bearer,
            ip=self.client_ip(request) if restoring else None,
            user_agent=request.headers.get("user-agent") if restoring else None,
        )
        cookies: list[Cookie] = []
        if identity is not None and identity.issued is not None:
            cookies.extend(self._session_cookies(identity.issued))
        elif identity is None and bearer is None:
            if session is not None:
                cookies.append(self._cookie(self.session_cookie, None))
            if remember is not None:
                cookies.append(self._cookie(self.remember_cookie, None))
        return identity, cookies

    async def dispatch(
        self,
        endpoint: str,
        request: HttpRequest,
        identity: Identity | None,
        params: dict[str, str] | None = None,
    ) -> HttpResponse:
        """Run one endpoint of ``ROUTES``; every refusal becomes the contract's error answer."""
        as_json = wants_json(request)
        handler: Callable[[Call], Any] = getattr(self, f"_{endpoint}")
        fields: dict[str, Any] = {}
        try:
            if request.method in UNSAFE_METHODS:
                fields = parse_body(request, self.settings)
                self._check_csrf(request, identity, fields)
            call = Call(
                request=request,
                identity=identity,
                fields=fields,
                as_json=as_json,
                params=params or {},
            )
            response: HttpResponse = await handler(call)
        except NotAuthenticated as exc:
            if as_json:
                return error_response(exc, json_body=True)
            target = self.settings.url_prefix + "/login?next=" + _quote(request.path)
            return HttpResponse(status=303, redirect=target)
        except DoorwardError as exc:
            page = FORM_PAGES.get(endpoint)
            if as_json or page is None:
                return error_response(exc, json_body=as_json)
            response = error_response(exc, json_body=False)
            response.page = page
            response.context.update(self._form_context(fields, exc), **(params or {}))
            return self._with_csrf(request, response)
        else:
            return response

    # -- CSRF ------------------------------------------------------------------------------------

    def _check_csrf(
        self, request: HttpRequest, identity: Identity | None, fields: dict[str, Any]
    ) -> None:
        if request.bearer_token is not None and identity is not None and identity.via == "api":
            return
        cookie = request.cookies.get(self.csrf_cookie)
        token = request.headers.get("x-csrf-token") or fields.pop("csrf_token", None)
        fields.pop("csrf_token", None)
        if not self.csrf.check(cookie, token):
            raise CsrfFailed

    def _with_csrf(
        self, request: HttpRequest, response: HttpResponse, *, rotate: bool = False
    ) -> HttpResponse:
        """Put a CSRF token in the page context (and the JSON of /csrf), setting the cookie."""
        cookie = None if rotate else request.cookies.get(self.csrf_cookie)
        if not cookie or len(cookie) > 128:
            cookie = self.csrf.new_cookie()
            response.cookies.append(self._cookie(self.csrf_cookie, cookie))
        response.context["csrf_token"] = self.csrf.token_for(cookie)
        return response

    # -- helpers ---------------------------------------------------------------------------------

    def _cookie(self, name: str, value: str | None, max_age: int | None = None) -> Cookie:
        return Cookie(name=name, value=value, max_age=max_age, secure=self.settings.cookie_secure)

    def _session_cookies(self, issued: IssuedSession) -> list[Cookie]:
        cookies = [self._cookie(self.session_cookie, issued.token)]
        if issued.remember_token is not None:
            cookies.append(
                self._cookie(self.remember_cookie, issued.remember_token, issued.remember_max_age)
            )
        return cookies

    def _next(self, request: HttpRequest, fields: dict[str, Any], fallback: str) -> str:
        target = fields.get("next") or request.query.get("next")
        return safe_redirect(
            target, fallback=fallback, allowed_hosts=self.settings.allowed_redirect_hosts
        )

    def _page(
        self, request: HttpRequest, page: str, *, status: int = 200, **context: Any
    ) -> HttpResponse:
        notice = NOTICES.get(request.query.get("notice", ""))
        base: dict[str, Any] = {
            "prefix": self.settings.url_prefix,
            "site_name": self.settings.display_name,
            "notice": notice,
            "errors": {},
            "alert": None,
            "message": None,
            "form": {},
            "next": safe_redirect(request.query.get("next"), fallback="", allowed_hosts=()),
        }
        response = HttpResponse(status=status, page=page, context={**base, **context})
        return self._with_csrf(request, response)

    def _form_context(self, fields: dict[str, Any], exc: DoorwardError) -> dict[str, Any]:
        form = {k: v for k, v in fields.items() if k in ECHOED_FIELDS and isinstance(v, str)}
        return {
            "prefix": self.settings.url_prefix,
            "site_name": self.settings.display_name,
            "notice": None,
            "errors": {k: list(v) for k, v in exc.fields.items()},
            "alert": exc.message,
            "message": None,
            "form": form,
            "next": form.get("next", ""),
        }

    def _neutral(self, request: HttpRequest, endpoint: str, as_json: bool) -> HttpResponse:
        message = NEUTRAL[endpoint]
        if as_json:
            return HttpResponse(status=202, json={"message": message})
        return self._page(request, "doorward/message.html", status=202, message=message)

    def _user_json(self, user: Any, roles: frozenset[str] | None = None) -> dict[str, Any]:
        return {"user": _rules.public_user(user, roles)}

    @staticmethod
    def _require(identity: Identity | None, *, session: bool = False) -> Identity:
        if identity is None:
            raise NotAuthenticated
        if session and identity.via != "session":
            raise NotAuthenticated("This needs a browser session, not an API token.")
        return identity

    # -- endpoints -------------------------------------------------------------------------------

    async def _csrf(self, call: Call) -> HttpResponse:
        response = self._with_csrf(call.request, HttpResponse())
        response.json = {"csrf_token": response.context.pop("csrf_token")}
        return response

    async def _register_page(self, call: Call) -> HttpResponse:
        return self._page(call.request, "doorward/register.html")

    async def _register(self, call: Call) -> HttpResponse:
        await self.auth.register(
            call.fields.get("email"), call.fields.get("password"), ip=self.client_ip(call.request)
        )
        return self._neutral(call.request, "register", call.as_json)

    async def _confirm_page(self, call: Call) -> HttpResponse:
        return self._page(call.request, "doorward/confirm.html")

    async def _send_confirmation(self, call: Call) -> HttpResponse:
        await self.auth.send_confirmation(call.fields.get("email"), ip=self.client_ip(call.request))
        return self._neutral(call.request, "send_confirmation", call.as_json)

    async def _confirm_token_page(self, call: Call) -> HttpResponse:
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        return self._page(call.request, "doorward/confirm_token.html", token=call.params["token"])

    async def _confirm(self, call: Call) -> HttpResponse:
        user = await self.auth.confirm_email(call.params["token"], ip=self.client_ip(call.request))
        if call.as_json:
            return HttpResponse(json=self._user_json(user))
        target = self.settings.url_prefix + "/login?notice=confirmed"
        return HttpResponse(status=303, redirect=target)

    async def _login_page(self, call: Call) -> HttpResponse:
        return self._page(call.request, "doorward/login.html")

    async def _login(self, call: Call) -> HttpResponse:
        remember = _flag(
            call.fields.get("remember", False),
            form=call.request.form is not None or call.request.content_type != "application/json",
        )
        user, issued = await self.auth.login(
            call.fields.get("email"),
            call.fields.get("password"),
            remember=remember,
            ip=self.client_ip(call.request),
            user_agent=call.request.headers.get("user-agent"),
        )
        if call.identity is not None and call.identity.via == "session":
            await self.auth.logout(call.identity)
        if call.as_json:
            response = HttpResponse(json=self._user_json(user))
        else:
            target = self._next(call.request, call.fields, self.settings.login_redirect)
            response = HttpResponse(status=303, redirect=target)
        response.cookies.extend(self._session_cookies(issued))
        return self._with_csrf(call.request, response, rotate=True)

    async def _logout(self, call: Call) -> HttpResponse:
        if call.identity is not None:
            await self.auth.logout(
                call.identity, remember_token=call.request.cookies.get(self.remember_cookie)
            )
        if call.as_json:
            response = HttpResponse(status=204)
        else:
            target = self._next(call.request, call.fields, self.settings.logout_redirect)
            response = HttpResponse(status=303, redirect=target)
        response.cookies.append(self._cookie(self.session_cookie, None))
        response.cookies.append(self._cookie(self.remember_cookie, None))
        return self._with_csrf(call.request, response, rotate=True)

    async def _logout_everywhere(self, call: Call) -> HttpResponse:
        current = self._require(call.identity)
        await self.auth.logout_everywhere(current.user)
        return await self._logout(attrs.evolve(call, identity=None))

    async def _me(self, call: Call) -> HttpResponse:
        current = self._require(call.identity)
        roles = await self.auth.store.get_user_roles(current.user)
        if call.as_json:
            return HttpResponse(json=self._user_json(current.user, roles))
        return self._page(
            call.request, "doorward/me.html", user=_rules.public_user(current.user, roles)
        )

    async def _forgot_page(self, call: Call) -> HttpResponse:
        return self._page(call.request, "doorward/forgot.html")

    async def _forgot_password(self, call: Call) -> HttpResponse:
        await self.auth.forgot_password(call.fields.get("email"), ip=self.client_ip(call.request))
        return self._neutral(call.request, "forgot_password", call.as_json)

    async def _reset_page(self, call: Call) -> HttpResponse:
        await self.auth.check_reset_token(call.params["token"], ip=self.client_ip(call.request))
        if call.as_json:
            return HttpResponse(json={"valid": True})
        return self._page(call.request, "doorward/reset.html", token=call.params["token"])

    async def _reset_password(self, call: Call) -> HttpResponse:
        user = await self.auth.reset_password(
            call.params["token"], call.fields.get("password"), ip=self.client_ip(call.request)
        )
        if call.as_json:
            response = HttpResponse(json=self._user_json(user))
        else:
            response = HttpResponse(
                status=303, redirect=self.settings.url_prefix + "/login?notice=password_reset"
            )
        response.cookies.append(self._cookie(self.session_cookie, None))
        response.cookies.append(self._cookie(self.remember_cookie, None))
        return response

    async def _change_password_page(self, call: Call) -> HttpResponse:
        self._require(call.identity, session=True)
        return self._page(call.request, "doorward/change_password.html")

    async def _change_password(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        issued = await self.auth.change_password(
            current, call.fields.get("current_password"), call.fields.get("new_password")
        )
        user = await self.auth.store.get_user(current.user_id)
        if call.as_json:
            response = HttpResponse(json=self._user_json(user))
        else:
            response = self._page(
                call.request, "doorward/message.html", message="Your password was changed."
            )
        response.cookies.extend(self._session_cookies(issued))
        response.cookies.append(self._cookie(self.remember_cookie, None))
        return response

    async def _change_email_page(self, call: Call) -> HttpResponse:
        self._require(call.identity, session=True)
        return self._page(call.request, "doorward/change_email.html")

    async def _request_email_change(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        await self.auth.request_email_change(
            current, call.fields.get("password"), call.fields.get("new_email")
        )
        return self._neutral(call.request, "request_email_change", call.as_json)

    async def _change_email_token_page(self, call: Call) -> HttpResponse:
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        return self._page(
            call.request, "doorward/change_email_token.html", token=call.params["token"]
        )

    async def _confirm_email_change(self, call: Call) -> HttpResponse:
        user = await self.auth.confirm_email_change(
            call.params["token"], ip=self.client_ip(call.request)
        )
        if call.as_json:
            response = HttpResponse(json=self._user_json(user))
        else:
            response = HttpResponse(
                status=303, redirect=self.settings.url_prefix + "/login?notice=email_changed"
            )
        response.cookies.append(self._cookie(self.session_cookie, None))
        response.cookies.append(self._cookie(self.remember_cookie, None))
        return response

    async def _reauth_page(self, call: Call) -> HttpResponse:
        self._require(call.identity, session=True)
        return self._page(call.request, "doorward/reauth.html")

    async def _reauth(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        await self.auth.reauthenticate(current, call.fields.get("password"))
        if call.as_json:
            return HttpResponse(json={"fresh": True})
        target = self._next(call.request, call.fields, self.settings.login_redirect)
        return HttpResponse(status=303, redirect=target)

    async def _list_tokens(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        tokens = [
            _rules.public_credential(c) for c in await self.auth.list_api_tokens(current.user)
        ]
        if call.as_json:
            return HttpResponse(json={"tokens": tokens})
        return self._page(
            call.request, "doorward/tokens.html", tokens=tokens, new_token=call.new_token
        )

    async def _issue_token(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        days = call.fields.get("expires_in_days")
        expires_in = None
        if days not in (None, ""):
            try:
                count = int(days)
            except (TypeError, ValueError):
                count = 0
            if isinstance(days, bool) or not 1 <= count <= 3650:
                raise ValidationFailed({"expires_in_days": ["A whole number of days, 1 to 3650."]})
            expires_in = timedelta(days=count)
        token, credential = await self.auth.issue_api_token(
            current.user, call.fields.get("name"), expires_in=expires_in
        )
        if call.as_json:
            body = {"token": token, **_rules.public_credential(credential)}
            return HttpResponse(status=201, json=body, headers={"Cache-Control": "no-store"})
        response = await self._list_tokens(attrs.evolve(call, new_token=token))
        response.status = 201
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _revoke_token(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        await self.auth.revoke_api_token(current.user, call.params["token_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return HttpResponse(status=303, redirect=self.settings.url_prefix + "/tokens")

    async def _list_sessions(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        sessions = [
            _rules.public_credential(c, current=current.credential.id)
            for c in await self.auth.list_sessions(current.user)
        ]
        if call.as_json:
            return HttpResponse(json={"sessions": sessions})
        return self._page(call.request, "doorward/sessions.html", sessions=sessions)

    async def _revoke_session(self, call: Call) -> HttpResponse:
        current = self._require(call.identity, session=True)
        await self.auth.revoke_session(current.user, call.params["session_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return HttpResponse(status=303, redirect=self.settings.url_prefix + "/sessions")


def _flag(value: object, *, form: bool) -> bool:
    """A checkbox: a JSON boolean, or in a form absent/empty or one of on/true/1/yes."""
    if isinstance(value, bool):
        return value
    if form and isinstance(value, str) and value.lower() in {"", "on", "true", "1", "yes"}:
        return value != ""
    raise ValidationFailed({"remember": ["Must be true or false."]})


def _quote(path: str) -> str:
    return quote(path, safe="/")
