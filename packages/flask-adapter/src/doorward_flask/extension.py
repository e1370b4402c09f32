"""The Flask extension: configuration, the blueprint, per-request authentication.

Everything an auth route decides is decided by the core (``doorward.Views``); this module
translates werkzeug requests to ``doorward.http.HttpRequest`` and ``HttpResponse`` back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import attrs
from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask.typing import ResponseReturnValue

from doorward import (
    ROUTES,
    Auth,
    Clock,
    Identity,
    Mailer,
    PasswordHasher,
    RateLimiter,
    Settings,
    UserStore,
)
from doorward._sync.mailers import mailer_from_url
from doorward._sync.views import Views
from doorward.exceptions import ConfigurationError, PayloadTooLarge, StoreUnavailable
from doorward.http import Cookie, HttpRequest, HttpResponse, error_response, wants_json

__all__ = ["Doorward", "settings_from_config"]

EXTENSION_KEY = "doorward"
_SETTING_NAMES = {a.name for a in attrs.fields(Settings)}


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """``Settings`` from ``DOORWARD_*`` keys: ``DOORWARD_BASE_URL`` → ``base_url`` ...

    ``DOORWARD_SECRET_KEY`` (one key) and ``DOORWARD_SECRET_KEYS`` (a list) both work.
    An unknown ``DOORWARD_`` key is an error, so typos do not pass silently.
    """
    values: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith("DOORWARD_") or key == "DOORWARD_MAIL_URL":
            continue
        name = key.removeprefix("DOORWARD_").lower()
        if name == "secret_key":
            name = "secret_keys"
        if name not in _SETTING_NAMES:
            raise ConfigurationError(f"unknown setting {key}")
        values[name] = value
    if "secret_keys" not in values:
        raise ConfigurationError("set DOORWARD_SECRET_KEY (at least 32 characters)")
    if "base_url" not in values:
        raise ConfigurationError("set DOORWARD_BASE_URL, the public URL of the site")
    return Settings(**values)


@attrs.define
class _State:
    auth: Auth
    views: Views
    settings: Settings


class Doorward:
    """Adds doorward to a Flask app: ``Doorward(app, store=...)`` or ``init_app`` later.

    Configuration comes from ``app.config`` (``DOORWARD_SECRET_KEY``, ``DOORWARD_BASE_URL``
    and any other ``DOORWARD_<SETTING>``), or pass ``settings=``. The mailer defaults to
    ``DOORWARD_MAIL_URL`` (``console://`` if unset). Rate limits count in this process
    unless ``limiter`` is a shared one (``doorward_sqlalchemy.SQLAlchemyRateLimiter``,
    ``doorward_mongo.MongoRateLimiter``), as several workers need.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: UserStore | None = None,
        settings: Settings | None = None,
        mailer: Mailer | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.mailer = mailer
        self.hasher = hasher
        self.clock = clock
        self.limiter = limiter
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate the configuration, build the flows, register the routes and hooks."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "doorward is already registered on this app; create one Doorward per app"
            )
        if self.store is None:
            raise ConfigurationError("Doorward needs a store, e.g. SQLAlchemyStore(engine, models)")
        settings = self.settings or settings_from_config(app.config)
        mailer = self.mailer or mailer_from_url(app.config.get("DOORWARD_MAIL_URL", "console://"))
        auth = Auth(
            settings,
            self.store,
            mailer=mailer,
            hasher=self.hasher,
            clock=self.clock,
            limiter=self.limiter,
        )
        state = _State(auth=auth, views=Views(auth), settings=settings)
        app.extensions[EXTENSION_KEY] = state
        app.register_blueprint(_blueprint(state), url_prefix=settings.url_prefix)
        app.before_request(_before)
        app.after_request(_apply_cookies)
        app.context_processor(_template_context)
        from doorward_flask.cli import doorward_cli  # noqa: PLC0415
        from doorward_flask.signals import connect_signals  # noqa: PLC0415

        app.cli.add_command(doorward_cli)
        connect_signals(app, auth)

    @property
    def auth(self) -> Auth:
        """The flows of the current app (for your own views and scripts)."""
        return state().auth


def state(app: Flask | None = None) -> _State:
    """The extension state of ``app`` (the current app by default)."""
    target = app or current_app
    try:
        found: _State = target.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "doorward is not set up on this app: did you forget Doorward(app, store=...)?"
        ) from None
    return found


# -- per request ----------------------------------------------------------------------------


def http_request(settings: Settings) -> HttpRequest:
    """The current werkzeug request as the core sees it (bodies read with a size cap)."""
    form: dict[str, str] | None = None
    body = b""
    if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        length = request.content_length
        if length is not None and length > settings.max_body_size:
            raise PayloadTooLarge
        if request.mimetype == "multipart/form-data":
            request.max_content_length = settings.max_body_size
            form = dict(request.form.items())
        else:
            body = request.stream.read(settings.max_body_size + 1)
    return HttpRequest(
        method=request.method,
        path=request.path,
        headers={key.lower(): value for key, value in request.headers.items()},
        cookies=dict(request.cookies),
        query=dict(request.args.items()),
        body=body,
        form=form,
        remote_addr=request.remote_addr,
    )


@attrs.define
class _RequestState:
    """What doorward learned about the current request (kept on ``g._doorward``)."""

    identity: Identity | None = None
    cookies: list[Cookie] = attrs.field(factory=list)
    error: StoreUnavailable | None = None


def _identify() -> _RequestState:
    try:
        identity, cookies = state().views.identify(_head_request())
        found = _RequestState(identity=identity, cookies=cookies)
    except StoreUnavailable as exc:
        found = _RequestState(error=exc)
    g._doorward = found  # noqa: SLF001 (Flask's advice for extension data on g)
    return found


def _request_state() -> _RequestState:
    found: _RequestState | None = g.get("_doorward")
    return found if found is not None else _identify()


def _before() -> None:
    _identify()


def _head_request() -> HttpRequest:
    """What authentication needs: headers, cookies and the client address, no body."""
    return HttpRequest(
        method=request.method,
        path=request.path,
        headers={key.lower(): value for key, value in request.headers.items()},
        cookies=dict(request.cookies),
        remote_addr=request.remote_addr,
    )


def current_identity() -> Identity | None:
    """Who made the current request (``None`` if anonymous or if the store is down)."""
    return _request_state().identity


def _apply_cookies(response: Response) -> Response:
    already = {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}
    for cookie in _request_state().cookies:
        if cookie.name not in already:
            response.headers.add("Set-Cookie", cookie.header())
    return response


def _template_context() -> dict[str, Any]:
    from doorward_flask.proxies import current_user  # noqa: PLC0415

    return {"current_user": current_user}


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
    for name, value in result.headers.items():
        response.headers[name] = value
    for cookie in result.cookies:
        response.headers.add("Set-Cookie", cookie.header())
    return response


def _route(endpoint: str) -> Callable[..., ResponseReturnValue]:
    def view(**params: str) -> ResponseReturnValue:
        current = state()
        error = _request_state().error
        try:
            if error is not None:
                raise error
            incoming = http_request(current.settings)
        except (StoreUnavailable, PayloadTooLarge) as exc:
            return to_response(error_response(exc, json_body=wants_json(_head_request())))
        identity = current_identity()
        return to_response(current.views.dispatch(endpoint, incoming, identity, params))

    view.__name__ = endpoint
    return view


def _blueprint(current: _State) -> Blueprint:
    folder = resources.files("doorward").joinpath("templates/html")
    blueprint = Blueprint("doorward", __name__, template_folder=str(folder))
    for method, path, endpoint in ROUTES:
        rule = path.replace("{", "<").replace("}", ">")
        blueprint.add_url_rule(
            rule,
            endpoint=f"{endpoint}_{method.lower()}",
            view_func=_route(endpoint),
            methods=[method],
        )
    del current
    return blueprint
