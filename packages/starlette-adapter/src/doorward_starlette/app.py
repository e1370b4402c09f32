"""doorward on Starlette: one object that gives the routes and the middleware.

    doorward = Doorward(settings=settings, store=store)
    app = Starlette(routes=[..., doorward.mount()], middleware=[doorward.middleware()])

Every auth route is decided by the core (``doorward.AsyncViews``); this module only
translates ASGI requests to ``doorward.http.HttpRequest`` and ``HttpResponse`` back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jinja2
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Host, Match, Mount, Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorward import (
    AsyncAuth,
    AsyncMailer,
    AsyncPasswordHasher,
    AsyncRateLimiter,
    AsyncViews,
    Clock,
    Identity,
    RequestState,
    Settings,
)
from doorward import (
    Route as DoorwardRoute,
)
from doorward._async.mailers import mailer_from_url
from doorward.exceptions import (
    ConfigurationError,
    DoorwardError,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from doorward.http import SAFE_METHODS, HeadersOnDemand, HttpRequest, HttpResponse

__all__ = ["Doorward", "DoorwardMiddleware", "DoorwardUser", "Refused", "RequestState"]

SCOPE_KEY = "doorward"
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
APP_KEY = "doorward.app"
#: The user ``Doorward.load_user`` read from the store for a snapshot-identified request.
_LOADED_KEY = "doorward.loaded_user"


class Refused(Exception):
    """Raised by guards outside a route handler (FastAPI dependencies); the middleware
    answers with ``response``, the core's refusal (the contract's error body)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class DoorwardUser:
    """``request.user`` for a logged-in request: wraps the application's user object.

    Attribute access falls through to the application's object (``request.user.email``);
    ``request.user.user`` is the object itself.
    """

    is_authenticated = True

    def __init__(self, identity: Identity) -> None:
        self.identity_record = identity
        self.user = identity.user

    @property
    def display_name(self) -> str:
        return str(self.user.email)

    @property
    def identity(self) -> str:
        return str(self.user.id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


class _Anonymous:
    is_authenticated = False
    display_name = ""
    identity = ""

    def __bool__(self) -> bool:
        return False


class Doorward:
    """The flows, the routes and the middleware of one Starlette or FastAPI app.

    ``store`` is an ``AsyncUserStore``; wrap a sync one in
    ``doorward.threaded.AsyncThreadedStore``.
    Rate limits count in this process unless ``limiter`` is a shared one
    (``doorward_sqlalchemy.AsyncSQLAlchemyRateLimiter``, ``doorward_mongo.AsyncMongoRateLimiter``).
    ``role_scopes`` adds ``role:<name>`` and ``perm:<name>`` to ``request.auth.scopes``:
    on a store with ``get_credential_with_roles`` (the memory, SQLAlchemy and Mongo stores,
    and ``AsyncThreadedStore`` over them) they come with the credential in the same store
    call; on another, at the cost of two more concurrent lookups per authenticated request.
    Turn it off when no route checks roles by scope (the FastAPI dependencies
    ``require_roles``/``require_permissions`` look roles up themselves).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        store: Any = None,
        mailer: AsyncMailer | None = None,
        mail_url: str = "console://",
        hasher: AsyncPasswordHasher | None = None,
        clock: Clock | None = None,
        limiter: AsyncRateLimiter | None = None,
        template_directories: Sequence[str | Path] = (),
        role_scopes: bool = True,
        auth: AsyncAuth | None = None,
    ) -> None:
        if auth is not None and not isinstance(auth, AsyncAuth):
            raise TypeError(
                f"Starlette needs a doorward.AsyncAuth (the async face), not {type(auth).__name__}"
            )
        if auth is None:
            if settings is None or store is None:
                raise ConfigurationError("Doorward needs settings= and store= (or auth=)")
            auth = AsyncAuth(
                settings,
                store,
                mailer=mailer or mailer_from_url(mail_url),
                hasher=hasher,
                clock=clock,
                limiter=limiter,
            )
        elif any(x is not None for x in (settings, store, mailer, hasher)):
            raise ConfigurationError("give Doorward either auth= or settings=/store=..., not both")
        self.auth = auth
        self.settings = auth.settings
        self.views = AsyncViews(auth)
        self.role_scopes = role_scopes and auth.enabled("roles")
        bundled = str(resources.files("doorward").joinpath("templates/html"))
        folders = [str(f.page_folder) for f in auth.features.values() if f.page_folder is not None]
        loader = jinja2.FileSystemLoader([*map(str, template_directories), *folders, bundled])
        env = jinja2.Environment(loader=loader, autoescape=True)
        self.templates = Jinja2Templates(env=env, context_processors=[_user_context])

    # -- mounting ------------------------------------------------------------------------

    def mount(self) -> Mount:
        """The auth routes under ``settings.url_prefix``.

        One Starlette route per path serves all of its methods (so a 405 names every
        allowed method); each handler also has a route named ``doorward:<handler>`` for
        ``url_for``, after it.
        """
        by_path: dict[str, dict[str, DoorwardRoute]] = {}
        for route in self.views.routes:
            by_path.setdefault(route.path, {})[route.method] = route
        served = [
            Route(path, self._methods(methods), methods=list(methods))
            for path, methods in by_path.items()
        ]
        named = [
            Route(
                route.path,
                self._endpoint(route),
                methods=[route.method],
                name=f"doorward:{route.name}",
            )
            for route in self.views.routes
        ]
        missing = Route("/{rest:path}", self._not_found(served), methods=_ALL_METHODS)
        return Mount(self.settings.url_prefix, routes=[*served, *named, missing])

    def _not_found(self, served: list[Route]) -> Any:
        """Any other path below the prefix: the contract's 404 (JSON or page); a known path
        asked with another method keeps Starlette's 405 with its ``Allow`` header."""

        async def handle(request: Request) -> Response:
            for route in served:
                match, _ = route.matches(request.scope)
                if match is Match.PARTIAL:
                    allowed = ", ".join(sorted(route.methods or ()))
                    return PlainTextResponse("Method Not Allowed", 405, {"Allow": allowed})
            return self.to_response(request, self.views.failure(head_request(request), NotFound()))

        return handle

    def _methods(self, routes: dict[str, DoorwardRoute]) -> Any:
        handlers = {method: self._endpoint(route) for method, route in routes.items()}
        if "GET" in handlers:
            handlers.setdefault("HEAD", handlers["GET"])

        async def handle(request: Request) -> Response:
            handler: Any = handlers[request.method]
            response: Response = await handler(request)
            return response

        return handle

    def middleware(self) -> Middleware:
        """The middleware that authenticates every request (``request.user``, ``request.auth``)."""
        return Middleware(DoorwardMiddleware, doorward=self)

    # -- per request -----------------------------------------------------------------------

    async def identify(self, connection: HTTPConnection) -> RequestState:
        """Authenticate a request or websocket (the middleware does this once per request)."""
        if not _may_carry_credentials(connection.scope):
            return RequestState()  # what identification answers without cookie or token
        # with role scopes, a store that can gives the roles with the credential (one trip)
        request = credentials_request(connection)
        return await self.views.request_state(request, roles=self.role_scopes)

    async def load_user(self, connection: HTTPConnection) -> Any | None:
        """The application's user object of this request, or ``None`` if anonymous.

        ``request.user`` wraps it, except when a session snapshot identified the request
        (``Settings.session_snapshot_seconds``): then ``request.user`` holds the id, email,
        roles and permissions only, and this reads the session and its user from the store
        (once per request; ``None`` if the session ended meanwhile).
        """
        state = await request_state(self, connection)
        identity = state.identity
        if identity is None or not identity.snapshot:
            return identity.user if identity is not None else None
        if _LOADED_KEY not in connection.scope:
            loaded = await self.views.loaded_identity(
                credentials_request(connection), identity, roles=self.role_scopes
            )
            connection.scope[_LOADED_KEY] = loaded.user if loaded is not None else None
        return connection.scope[_LOADED_KEY]

    async def scopes(self, identity: Identity | None) -> list[str]:
        """``authenticated``, ``fresh``, and with ``role_scopes`` the roles and permissions."""
        if identity is None:
            return []
        scopes = ["authenticated"]
        if identity.fresh:
            scopes.append("fresh")
        if self.role_scopes:
            if identity.roles is not None and identity.permissions is not None:
                roles, permissions = identity.roles, identity.permissions
            else:  # the store has no combined lookup (or a remember-me cookie restored it)
                roles, permissions = await asyncio.gather(
                    self.auth.roles_of(identity.user), self.auth.permissions_of(identity.user)
                )
            scopes += [f"role:{r}" for r in sorted(roles)]
            scopes += [f"perm:{p}" for p in sorted(permissions)]
        return scopes

    def _endpoint(self, route: DoorwardRoute) -> Any:
        async def handle(request: Request) -> Response:
            state = await request_state(self, request)
            try:
                if state.error is not None:
                    raise state.error
                incoming = await read_request(request, self.settings)
            except DoorwardError as exc:
                result = self.views.failure(head_request(request), exc, route=route)
                return self.to_response(request, result)
            params = {key: str(value) for key, value in request.path_params.items()}
            result = await self.views.dispatch(route, incoming, state.identity, params)
            return self.to_response(request, result)

        handle.__name__ = route.name
        return handle

    def to_response(self, request: Request, result: HttpResponse) -> Response:
        """A Starlette response for a core ``HttpResponse``."""
        response: Response
        if result.redirect is not None:
            response = RedirectResponse(result.redirect, status_code=result.status)
        elif result.page is not None:
            response = self.templates.TemplateResponse(
                request, result.page, result.context, status_code=result.status
            )
        elif result.status == 204 or result.json is None:
            response = Response(status_code=result.status)
        else:
            response = JSONResponse(result.json, status_code=result.status)
        for name, value in result.headers.items():
            response.headers[name] = value
        for cookie in result.cookies:
            response.headers.append("set-cookie", cookie.header())
        return response


class DoorwardMiddleware:
    """Pure ASGI middleware: authenticates once, fills ``scope["user"]``/``scope["auth"]``
    (so ``request.user`` and ``starlette.authentication.requires`` work), and adds the
    cookies a remember-me restore issued to the response."""

    def __init__(self, app: ASGIApp, doorward: Doorward) -> None:
        self.app = app
        self.doorward = doorward

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        from starlette.authentication import AuthCredentials  # noqa: PLC0415

        prefix = self.doorward.settings.url_prefix + "/"
        if scope["type"] == "http" and "\n" in scope["path"] and scope["path"].startswith(prefix):
            # Starlette's route patterns never match a line break, so no route of the mount
            # would answer: give the contract's 404 rather than the framework's plain text
            request = Request(scope, receive)
            refused = self.doorward.views.failure(head_request(request), NotFound())
            await self.doorward.to_response(request, refused)(scope, receive, send)
            return

        state = await self.doorward.identify(HTTPConnection(scope))
        scope[SCOPE_KEY] = state
        scope[APP_KEY] = self.doorward
        identity = state.identity
        scope["user"] = DoorwardUser(identity) if identity is not None else _Anonymous()
        scope["auth"] = AuthCredentials(await self.doorward.scopes(identity))
        started = False

        async def send_with_cookies(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if state.cookies:
                    message = {**message, "headers": _with_cookies(message, state)}
            await send(message)

        if self.doorward.settings.csrf_protect_app and scope["type"] == "http":
            csrf_refused, receive = await _csrf_refusal(self.doorward, scope, receive, identity)
            if csrf_refused is not None:
                answer = self.doorward.to_response(Request(scope, receive), csrf_refused)
                await answer(scope, receive, send_with_cookies)
                return
        try:
            await self.app(scope, receive, send_with_cookies)
        except Refused as refused:
            if started or scope["type"] != "http":
                raise
            answer = self.doorward.to_response(Request(scope, receive), refused.response)
            await answer(scope, receive, send_with_cookies)


#: The attribute ``csrf_exempt`` sets on an endpoint: ``csrf_protect_app`` leaves it alone.
CSRF_EXEMPT = "_doorward_csrf_exempt"
#: The attribute ``csrf_protect`` sets: the endpoint checks (and reads its form) itself.
CSRF_CHECKED = "_doorward_csrf_checked"


async def _csrf_refusal(
    doorward: Doorward, scope: Scope, receive: Receive, identity: Identity | None
) -> tuple[HttpResponse | None, Receive]:
    """``csrf_protect_app``: the core's refusal of an unsafe request to the app's own
    routes without its CSRF token, and the ``receive`` to go on with (the body read for a
    form's ``csrf_token`` field is given again to the app)."""
    if doorward.settings.is_auth_path(str(scope["path"])):
        return None, receive  # the auth routes check their own
    head = head_request(HTTPConnection(scope))
    if head.method in SAFE_METHODS:
        return None, receive
    routes = getattr(scope.get("app"), "routes", None)
    endpoint = _endpoint_of(routes, scope) if routes is not None else _UNSEEN
    if endpoint is None:  # no route takes it: the router answers 404 or 405, as on Flask
        return None, receive
    if getattr(endpoint, CSRF_EXEMPT, False) or getattr(endpoint, CSRF_CHECKED, False):
        return None, receive
    form_token = None
    if doorward.views.csrf_reads_form(head):
        form_token, receive = await _buffered_form_token(scope, receive, doorward.settings)
    return doorward.views.check_csrf(head, identity, form_token=form_token), receive


#: The endpoint of a request whose app's routes cannot be seen: checked like any other.
_UNSEEN = object()


def _endpoint_of(routes: Sequence[BaseRoute], scope: Scope) -> object | None:
    """The endpoint the app's router will give the request to; ``None`` when no route
    takes it (path and method)."""
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            inner = getattr(route, "routes", None)
            if isinstance(route, Mount | Host) and inner:
                return _endpoint_of(inner, {**scope, **child})
            return child.get("endpoint")
    return None


async def _buffered_form_token(
    scope: Scope, receive: Receive, settings: Settings
) -> tuple[str | None, Receive]:
    """The ``csrf_token`` field of a form body of at most ``max_body_size`` bytes (a
    larger form sends the header, or its endpoint is decorated with ``csrf_protect``)."""
    received: list[Message] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > settings.max_body_size:
            return None, _replaying(received, receive)
        if not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in received if m["type"] == "http.request")

    async def whole() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(scope, whole).form() as form:
            value = form.get("csrf_token")
    except Exception:  # noqa: BLE001 (a body that is no valid form carries no token)
        value = None
    return (value if isinstance(value, str) else None), _replaying(received, receive)


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read again, then reads on."""
    pending = list(received)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again


def _may_carry_credentials(scope: Scope) -> bool:
    """Whether the request has a ``Cookie`` or an ``Authorization`` header at all."""
    return any(key.lower() in _CREDENTIAL_HEADERS for key, _ in scope.get("headers", ()))


_CREDENTIAL_HEADERS = frozenset({b"cookie", b"authorization"})


def _with_cookies(message: Message, state: RequestState) -> list[tuple[bytes, bytes]]:
    """The response headers plus the cookies identification decided (unless already set)."""
    headers = list(message.get("headers", []))
    taken = {
        value.split(b"=", 1)[0].decode("latin-1")
        for key, value in headers
        if key.lower() == b"set-cookie"
    }
    headers += [
        (b"set-cookie", cookie.header().encode("latin-1"))
        for cookie in state.cookies
        if cookie.name not in taken
    ]
    return headers


async def request_state(doorward: Doorward, connection: HTTPConnection) -> RequestState:
    """The request's state from the middleware, or authenticate now if it is not installed."""
    found = connection.scope.get(SCOPE_KEY)
    if isinstance(found, RequestState):
        return found
    state = await doorward.identify(connection)
    connection.scope[SCOPE_KEY] = state
    return state


class _ScopeHeaders(HeadersOnDemand):
    """The request's headers (lower-case names; of a repeated header the last, as a dict of
    ``connection.headers`` has it), read from the ASGI scope when asked."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        super().__init__()
        self._raw = raw

    def get(self, name: str, default: Any = None) -> Any:
        key = name.lower().encode("latin-1")
        found = default
        for raw_name, value in self._raw:
            if raw_name.lower() == key:
                found = value.decode("latin-1")
        return found

    def gather(self) -> dict[str, str]:
        return {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self._raw
        }


def credentials_request(connection: HTTPConnection) -> HttpRequest:
    """What authentication reads: headers, cookies and the client address (no URL parsing)."""
    scope = connection.scope
    client = scope.get("client")
    return HttpRequest(
        method=str(scope.get("method", "GET")),
        path=str(scope["path"]),
        headers=_ScopeHeaders(scope["headers"]),
        cookies=dict(connection.cookies),
        remote_addr=client[0] if client else None,
    )


def head_request(connection: HTTPConnection) -> HttpRequest:
    """What authentication needs of a request: headers, cookies, client address."""
    method = connection.scope.get("method", "GET")
    return HttpRequest(
        method=str(method),
        path=connection.url.path,
        headers={key.lower(): value for key, value in connection.headers.items()},
        cookies=dict(connection.cookies),
        query=dict(connection.query_params.items()),
        remote_addr=connection.client.host if connection.client else None,
    )


async def read_request(request: Request, settings: Settings) -> HttpRequest:
    """The whole request as the core sees it; the body is read with a size cap."""
    head = head_request(request)
    if request.method not in {"POST", "PUT", "PATCH", "DELETE"}:
        return head
    limit = settings.max_body_size
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge
    if head.content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=0, max_fields=50, max_part_size=limit)
        except Exception as exc:
            raise ValidationFailed({"body": ["The form is not valid."]}) from exc
        values: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise ValidationFailed({key: ["Files are not accepted here."]})
            values[key] = value
        return attrs.evolve(head, form=values)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge
    return attrs.evolve(head, body=bytes(body))


def _user_context(request: Request) -> dict[str, Any]:
    return {"current_user": request.scope.get("user") or _Anonymous()}
