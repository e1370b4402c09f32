"""The HTTP contract, framework-neutral: the routes of every enabled feature.

Adapters register ``views.routes`` under ``Settings.url_prefix``, build an ``HttpRequest``,
call ``identify`` once per request and ``dispatch`` for these routes, and apply the
``HttpResponse``. For their own decorators and dependencies they ask ``guard``. All
decisions (status codes, CSRF, access, negotiation, redirects, cookies) are made here, once,
so every adapter answers the same. ``Views`` is the generated sync twin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from doorward import _rules, i18n
from doorward._async.login import AsyncLogin
from doorward._async.roles import AsyncRoleChecks
from doorward._async.service import AsyncAuth
from doorward._rules import Identity
from doorward.exceptions import (
    CsrfFailed,
    DoorwardError,
    Forbidden,
    MfaEnrolmentRequired,
    NotAuthenticated,
    ReauthRequired,
    StoreUnavailable,
)
from doorward.http import (
    FORM_TYPES,
    SAFE_METHODS,
    UNSAFE_METHODS,
    Cookie,
    HttpRequest,
    HttpResponse,
    error_response,
    parse_body,
    wants_json,
)
from doorward.i18n import N_
from doorward.openapi import openapi_document
from doorward.policies import client_ip
from doorward.routing import Access, Route, declared_endpoints, endpoint
from doorward.tokens import SessionSnapshots
from doorward.web import Call, RequestState, Web

__all__ = ["AsyncViews"]


class AsyncViews:
    """The contract's endpoints over one ``AsyncAuth``."""

    def __init__(self, auth: AsyncAuth) -> None:
        self.auth = auth
        self.settings = auth.settings
        self.web = auth.ctx.web
        own = [
            Route(endpoint=declared, name=name, feature="site", handler=getattr(self, name))
            for name, declared in declared_endpoints(self)
        ]
        self.routes: tuple[Route, ...] = (*own, *auth.routes())
        self._login = auth.feature(AsyncLogin)
        self._document: dict[str, Any] | None = None
        #: The framework's own locale of the current request, asked after
        #: ``Settings.locale_selector`` (the Flask adapter sets it to Flask-Babel's).
        self.framework_locale: Callable[[], object] | None = None

    # -- per request ---------------------------------------------------------------------------

    def client_ip(self, request: HttpRequest) -> str | None:
        """The client's address, trusting X-Forwarded-For only as configured (RL-06)."""
        return client_ip(
            request.remote_addr,
            request.headers.get("x-forwarded-for"),
            self.settings.trusted_proxy_count,
        )

    async def identify(
        self, request: HttpRequest, *, roles: bool = False, snapshot: bool = True
    ) -> tuple[Identity | None, list[Cookie]]:
        """Authenticate a request; also the cookies to set or clear on its response.

        Never raises for bad credentials: a broken or stale cookie is anonymous and is
        cleared. A store failure propagates (``StoreUnavailable``); see ``request_state``.
        ``roles``: fetch the user's roles and permissions with the credential when the store
        can (``AsyncLoginSessions.authenticate``). With session snapshots on
        (``Settings.session_snapshot_seconds``) a valid snapshot of this session cookie
        identifies the request without the store, unless ``snapshot`` is false; the store's
        answer to a session cookie is snapshotted (roles included) for the next requests.
        """
        web = self.web
        session = request.cookies.get(web.session_cookie)
        remember = request.cookies.get(web.remember_cookie)
        bearer = request.bearer_token
        snapshots = web.snapshots if bearer is None else None  # never for bearer tokens
        held = request.cookies.get(web.snapshot_cookie) if snapshots is not None else None
        if snapshots is not None and held is not None and session is not None and snapshot:
            found = self._from_snapshot(snapshots, session, held)
            if found is not None:
                return found, []
        restoring = remember is not None and bearer is None
        identity = await self._login.authenticate(
            session_token=session if bearer is None else None,
            remember_token=remember if bearer is None else None,
            bearer_token=bearer,
            ip=self.client_ip(request) if restoring else None,
            user_agent=request.headers.get("user-agent") if restoring else None,
            roles=roles or snapshots is not None,
        )
        cookies: list[Cookie] = []
        if identity is not None and identity.issued is not None:
            cookies.extend(web.session_cookies(identity.issued))
        elif identity is None and bearer is None:
            if session is not None:
                cookies.append(web.cookie(web.session_cookie, None))
            if remember is not None:
                cookies.append(web.cookie(web.remember_cookie, None))
        if snapshots is not None and identity is not None and identity.issued is None and snapshot:
            cookies.extend(self._snapshot_cookies(snapshots, identity, held))
        elif held is not None and identity is None:
            cookies.append(web.cookie(web.snapshot_cookie, None))
        return identity, cookies

    async def loaded_identity(
        self, request: HttpRequest, identity: Identity | None, *, roles: bool = False
    ) -> Identity | None:
        """``identity`` with the application's user object. A request a session snapshot
        identified holds only the user's id and email: its session and user are read from
        the store (``None`` if the session ended meanwhile or the store is unavailable)."""
        if identity is None or not identity.snapshot:
            return identity
        try:
            found, _ = await self.identify(request, roles=roles, snapshot=False)
        except StoreUnavailable:
            return None
        return found

    def _from_snapshot(
        self, snapshots: SessionSnapshots, session: str, held: str
    ) -> Identity | None:
        """The identity a snapshot cookie gives with this session cookie, if it is valid."""
        payload = snapshots.loads(held)
        if payload is None:
            return None
        secret_hash = self.auth.ctx.secrets.secret_hash("session", session)
        if secret_hash is None:
            return None
        return _rules.snapshot_identity(
            payload, secret_hash, self.auth.ctx.clock.now(), self.settings
        )

    def _snapshot_cookies(
        self, snapshots: SessionSnapshots, identity: Identity, held: str | None
    ) -> list[Cookie]:
        """A new snapshot of a session the store just identified (or clear a stale one)."""
        web = self.web
        now = self.auth.ctx.clock.now()
        made = _rules.snapshot_payload(identity, now, self.settings)
        if made is None:
            return [] if held is None else [web.cookie(web.snapshot_cookie, None)]
        payload, until = made
        # whole seconds, rounded down: the browser drops it no later than the server would
        max_age = max(1, int((until - now).total_seconds()))
        return [web.cookie(web.snapshot_cookie, snapshots.dumps(payload), max_age)]

    def language(self, request: HttpRequest) -> i18n.Language:
        """The language to answer ``request`` in: the app's selector, the framework's
        locale, ``Accept-Language``, else English (each matched to a shipped locale)."""
        choices: list[Callable[[], object]] = []
        selector = self.settings.locale_selector
        if selector is not None:
            choices.append(lambda: selector(request))
        if self.framework_locale is not None:
            choices.append(self.framework_locale)
        return i18n.language(i18n.select_locale(request.headers, *choices))

    async def request_state(self, request: HttpRequest, *, roles: bool = False) -> RequestState:
        """``identify`` as a record that also holds a store failure instead of raising it."""
        try:
            identity, cookies = await self.identify(request, roles=roles)
        except StoreUnavailable as exc:
            return RequestState(error=exc)
        return RequestState(identity=identity, cookies=cookies)

    async def dispatch(
        self,
        route: Route,
        request: HttpRequest,
        identity: Identity | None,
        params: dict[str, str] | None = None,
    ) -> HttpResponse:
        """Run one route; every refusal becomes the contract's error answer.

        Every answer carries the headers of ``Web.secured`` (HD-01..HD-03) and is in the
        request's language (``language``); mails sent meanwhile are in it too.
        """
        if identity is not None and identity.snapshot:
            # the auth routes act on the account: they read the store, never a snapshot
            try:
                identity, _ = await self.identify(request, snapshot=False)
            except StoreUnavailable as exc:
                return self.failure(request, exc, route=route)
        lang = self.language(request)
        token = i18n.set_current(lang)
        try:
            response = await self._run(route, request, identity, params)
        finally:
            i18n.reset_current(token)
        if identity is not None and response.page is not None and not self._ends_session(response):
            # the layout's navigation names who is logged in
            response.context.setdefault("viewer", str(identity.user.email))
        response = self.web.localized(response, lang)
        if self.web.snapshots is not None and request.method in UNSAFE_METHODS:
            _drop_snapshot(self.web, request, response)
        return self.web.secured(response, token_in_url=_token_in_url(route))

    def _ends_session(self, response: HttpResponse) -> bool:
        """Whether ``response`` clears the session cookie (a logout, a reset, a deletion)."""
        name = self.web.session_cookie
        return any(cookie.name == name and cookie.value is None for cookie in response.cookies)

    async def _run(
        self,
        route: Route,
        request: HttpRequest,
        identity: Identity | None,
        params: dict[str, str] | None,
    ) -> HttpResponse:
        as_json = wants_json(request)
        declared = route.endpoint
        fields: dict[str, Any] = {}
        try:
            if request.method in UNSAFE_METHODS:
                fields = parse_body(request, self.settings)
                if declared.csrf:
                    self._check_csrf(request, identity, fields)
            _check_access(declared.access, identity)
            call = Call(
                request=request,
                identity=identity,
                fields=fields,
                as_json=as_json,
                params=params or {},
                ip=self.client_ip(request),
            )
            response: HttpResponse = await route.handler(call)
        except NotAuthenticated as exc:
            return self.refusal(attrs.evolve(request, query={}), exc)
        except DoorwardError as exc:
            if as_json:
                return error_response(exc, json_body=True)
            if declared.form is None:
                return self.web.error_page(request, error_response(exc, json_body=False))
            return self.web.refused_form(request, declared.form, fields, exc, params or {})
        else:
            return response

    # -- guards for the app's own routes -------------------------------------------------------

    async def guard(
        self,
        request: HttpRequest,
        identity: Identity | None,
        *,
        fresh: bool = False,
        roles: Sequence[str] = (),
        any_roles: Sequence[str] = (),
        permissions: Sequence[str] = (),
        as_json: bool | None = None,
    ) -> HttpResponse | None:
        """``None`` to let the request in, else the refusal to answer with.

        Anonymous → browsers 303 to the login page with a safe ``next`` back here, JSON
        401; a stale session where ``fresh`` is asked → the re-authentication page or 401
        ``reauth_required``; a missing role or permission → 403 page or JSON.
        ``as_json`` forces JSON answers (APIs) instead of negotiating them.
        """
        try:
            if identity is None:
                raise NotAuthenticated
            if await self._login.enrolment_required(identity.user):
                raise MfaEnrolmentRequired
            if fresh:
                self._login.require_fresh(identity)
            if roles or any_roles or permissions:
                await self._check_roles(identity, roles, any_roles, permissions)
        except DoorwardError as exc:
            return self.refusal(request, exc, as_json=as_json, identity=identity)
        return None

    async def _check_roles(
        self,
        identity: Identity,
        roles: Sequence[str],
        any_roles: Sequence[str],
        permissions: Sequence[str],
    ) -> None:
        """``Forbidden`` unless the user has the roles and permissions; those identification
        fetched with the credential (``Identity.roles``) are used, else the store is asked."""
        if identity.roles is not None and identity.permissions is not None:
            held, granted = identity.roles, identity.permissions
            if (
                not set(roles) <= held
                or (any_roles and not set(any_roles) & held)
                or not set(permissions) <= granted
            ):
                raise Forbidden
            return
        checks = self.auth.feature(AsyncRoleChecks)
        if roles and not await checks.has_roles(identity.user, *roles):
            raise Forbidden
        if any_roles and not await checks.has_any_role(identity.user, *any_roles):
            raise Forbidden
        if permissions and not await checks.has_permissions(identity.user, *permissions):
            raise Forbidden

    def refusal(
        self,
        request: HttpRequest,
        exc: DoorwardError,
        *,
        as_json: bool | None = None,
        identity: Identity | None = None,
    ) -> HttpResponse:
        """The answer to a refused request: a redirect to log in for browsers, else the error.

        A browser's error page (a missing role, a CSRF refusal) has the site's context, as
        doorward's own error pages do: the app's layout, the prefix, a CSRF token for the
        layout's forms, and the viewer (``identity``) for its navigation.
        """
        if as_json is None:
            as_json = wants_json(request)
        if not as_json and isinstance(exc, MfaEnrolmentRequired):
            target = quote(request.target, safe="/")
            return HttpResponse(
                status=303,
                redirect=f"{self.settings.url_prefix}/mfa?notice=mfa_enrolment_required"
                f"&next={target}",
            )
        if not as_json and isinstance(exc, NotAuthenticated | ReauthRequired):
            page = "/reauth" if isinstance(exc, ReauthRequired) else "/login"
            target = quote(request.target, safe="/")
            return self.web.secured(
                HttpResponse(status=303, redirect=f"{self.settings.url_prefix}{page}?next={target}")
            )
        response = error_response(exc, json_body=as_json)
        if not as_json:
            response = self.web.with_csrf(request, self.web.error_page(request, response))
            if identity is not None:
                response.context["viewer"] = str(identity.user.email)
        response = self.web.localized(response, self.language(request))
        return self.web.secured(response)

    def failure(
        self,
        request: HttpRequest,
        exc: DoorwardError,
        *,
        route: Route | None = None,
        as_json: bool | None = None,
    ) -> HttpResponse:
        """The error answer for a failure before ``dispatch`` ran (the store down while
        identifying, a body too large to read), with the headers of every answer."""
        if as_json is None:
            as_json = wants_json(request)
        token_in_url = route is not None and _token_in_url(route)
        response = self.web.localized(
            error_response(exc, json_body=as_json), self.language(request)
        )
        return self.web.secured(response, token_in_url=token_in_url)

    # -- CSRF ------------------------------------------------------------------------------------

    def _check_csrf(
        self, request: HttpRequest, identity: Identity | None, fields: dict[str, Any]
    ) -> None:
        token = request.headers.get("x-csrf-token") or fields.pop("csrf_token", None)
        fields.pop("csrf_token", None)
        if not _bearer_authenticated(request, identity) and not self._csrf_valid(request, token):
            raise CsrfFailed

    def _csrf_valid(self, request: HttpRequest, token: object) -> bool:
        return self.web.csrf.check(request.cookies.get(self.web.csrf_cookie), token)

    def check_csrf(
        self,
        request: HttpRequest,
        identity: Identity | None,
        *,
        form_token: object = None,
        as_json: bool | None = None,
    ) -> HttpResponse | None:
        """``None`` to let a request to the app's own routes in, else the 403 ``csrf_failed``
        refusal (CR-01: the rule of the auth routes, for the application's).

        Safe methods (GET, HEAD, OPTIONS, TRACE) and requests authenticated by a bearer
        token (API or access token) pass; every other request needs the token of its CSRF
        cookie, whether or not someone is logged in, in the ``X-CSRF-Token`` header or as
        ``form_token``: the ``csrf_token`` field of a submitted form, which adapters read
        only when ``csrf_reads_form`` says so. A refusal is JSON or the error page as
        ``refusal`` negotiates it (``as_json`` forces JSON).
        """
        if request.method in SAFE_METHODS or _bearer_authenticated(request, identity):
            return None
        token = request.headers.get("x-csrf-token") or form_token
        if self._csrf_valid(request, token):
            return None
        return self.refusal(request, CsrfFailed(), as_json=as_json)

    @staticmethod
    def csrf_reads_form(request: HttpRequest) -> bool:
        """Whether ``check_csrf`` may need the ``csrf_token`` field of the request's body:
        an unsafe request without the header whose body is a form."""
        return (
            request.method not in SAFE_METHODS
            and not request.headers.get("x-csrf-token")
            and request.content_type in FORM_TYPES
        )

    @endpoint("GET", "/openapi.json")
    async def openapi(self, call: Call) -> HttpResponse:  # noqa: ARG002 (every handler takes the call)
        """The OpenAPI 3.1 document of the JSON contract."""
        return HttpResponse(json=self.openapi_document())

    def openapi_document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the enabled routes (built once; do not change it)."""
        if self._document is None:
            self._document = openapi_document(self.routes, self.settings, body_of=self._body_of)
        return self._document

    def _body_of(self, route: Route) -> Mapping[str, type]:
        feature = self.auth.features.get(route.feature)
        return feature.body_of(route) if feature is not None else route.endpoint.body

    @endpoint("GET", "/csrf")
    async def csrf(self, call: Call) -> HttpResponse:
        """A CSRF token for JSON clients (and its cookie)."""
        response = self.web.with_csrf(call.request, HttpResponse())
        response.json = {"csrf_token": str(response.context.pop("csrf_token"))}
        return response


def _drop_snapshot(web: Web, request: HttpRequest, response: HttpResponse) -> None:
    """After a change made through the auth routes (re-authentication, roles, logout ...)
    the next request reads the store again: the session snapshot the request carried is
    cleared, unless the route set or cleared it itself."""
    name = web.snapshot_cookie
    if name in request.cookies and all(cookie.name != name for cookie in response.cookies):
        response.cookies.append(web.cookie(name, None))


def _token_in_url(route: Route) -> bool:
    """Whether the route's URL carries an emailed token (reset, confirm, change-email, unlock)."""
    return "{token}" in route.path


def _bearer_authenticated(request: HttpRequest, identity: Identity | None) -> bool:
    """A request authenticated by its bearer token (API or access token): no browser sends
    one by itself, so it needs no CSRF token."""
    return (
        request.bearer_token is not None
        and identity is not None
        and identity.via in {"api", "access"}
    )


def _check_access(access: Access, identity: Identity | None) -> None:
    if access == "anyone":
        return
    if identity is None:
        raise NotAuthenticated
    if access == "session" and identity.via != "session":
        raise NotAuthenticated(N_("This needs a browser session, not an API token."))
