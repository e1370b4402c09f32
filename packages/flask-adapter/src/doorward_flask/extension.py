"""The Flask extension: configuration, the blueprint, per-request authentication.

Everything an auth route decides is decided by the core (``doorward.Views``); this module
translates werkzeug requests to ``doorward.http.HttpRequest`` and ``HttpResponse`` back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import attrs
from flask import Blueprint, Flask, current_app
from flask.typing import ResponseReturnValue

from doorward import Auth, Clock, Mailer, PasswordHasher, RateLimiter, Route, Settings, Views
from doorward._sync.mailers import mailer_from_url
from doorward.exceptions import ConfigurationError, PayloadTooLarge, StoreUnavailable
from doorward_flask._state import (
    EXTENSION_KEY,
    AppState,
    apply_cookies,
    current_identity,
    full_request,
    head_request,
    request_state,
    state,
    to_response,
)
from doorward_flask.cli import doorward_cli
from doorward_flask.csrf import csrf_token, protect_app_request
from doorward_flask.proxies import current_user
from doorward_flask.signals import connect_signals

__all__ = ["Doorward", "current_identity", "settings_from_config", "state"]

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


class Doorward:
    """Adds doorward to a Flask app: ``Doorward(app, store=...)`` or ``init_app`` later.

    Configuration comes from ``app.config`` (``DOORWARD_SECRET_KEY``, ``DOORWARD_BASE_URL``
    and any other ``DOORWARD_<SETTING>``), or pass ``settings=``. The mailer defaults to
    ``DOORWARD_MAIL_URL`` (``console://`` if unset). Rate limits count in this process
    unless ``limiter`` is a shared one (``doorward_sqlalchemy.SQLAlchemyRateLimiter``,
    ``doorward_mongo.MongoRateLimiter``), as several workers need.

    Or build the flows yourself and pass them: ``Doorward(app, auth=Auth(settings, store,
    templates=..., events=..., breach_checker=..., features=[...]))`` reaches every option.

    Templates get ``csrf_token()`` (unless another extension defined it first). With
    ``DOORWARD_CSRF_PROTECT_APP = True`` every unsafe request to the app's own views needs
    the CSRF token too (see ``csrf_protect`` and ``csrf_exempt``).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: Any = None,
        settings: Settings | None = None,
        mailer: Mailer | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        auth: Auth | None = None,
    ) -> None:
        if auth is not None and not isinstance(auth, Auth):
            raise TypeError(
                f"Flask needs a doorward.Auth (the sync face), not {type(auth).__name__}"
            )
        if auth is not None and any(x is not None for x in (store, settings, mailer, hasher)):
            raise ConfigurationError("give Doorward either auth= or store=/settings=..., not both")
        self._auth = auth
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
        auth = self._auth or self._build(app)
        current = AppState(auth=auth, views=Views(auth), settings=auth.settings)
        current.views.framework_locale = _flask_babel_locale
        app.extensions[EXTENSION_KEY] = current
        app.register_blueprint(
            _blueprint(current.views.routes), url_prefix=auth.settings.url_prefix
        )
        for feature in auth.features.values():
            if feature.page_folder is not None:
                pages = Blueprint(
                    f"doorward_{feature.name}", __name__, template_folder=str(feature.page_folder)
                )
                app.register_blueprint(pages)
        if auth.settings.csrf_protect_app:
            app.before_request(protect_app_request)
        app.after_request(apply_cookies)
        app.context_processor(_template_context)
        app.jinja_env.globals.setdefault("csrf_token", csrf_token)
        app.cli.add_command(doorward_cli)
        connect_signals(app, auth)

    def _build(self, app: Flask) -> Auth:
        if self.store is None:
            raise ConfigurationError("Doorward needs a store, e.g. SQLAlchemyStore(engine, models)")
        settings = self.settings or settings_from_config(app.config)
        mailer = self.mailer or mailer_from_url(app.config.get("DOORWARD_MAIL_URL", "console://"))
        return Auth(
            settings,
            self.store,
            mailer=mailer,
            hasher=self.hasher,
            clock=self.clock,
            limiter=self.limiter,
        )

    @property
    def auth(self) -> Auth:
        """The flows of the current app (for your own views and scripts)."""
        return state().auth


def _flask_babel_locale() -> object:
    """Flask-Babel's locale of this request when the app set Flask-Babel up with a locale
    selector or a default locale other than English (``None`` otherwise, and without it)."""
    babel = current_app.extensions.get("babel")
    if babel is None:
        return None
    chosen = getattr(babel, "locale_selector", None) is not None
    if not chosen and str(getattr(babel, "default_locale", "en")) == "en":
        return None
    try:
        flask_babel = importlib.import_module("flask_babel")
    except ImportError:
        return None
    return flask_babel.get_locale()


def _template_context() -> dict[str, Any]:
    return {"current_user": current_user}


def _view(route: Route) -> Callable[..., ResponseReturnValue]:
    def view(**params: str) -> ResponseReturnValue:
        current = state()
        found = request_state()
        try:
            if found.error is not None:
                raise found.error
            incoming = full_request(current.settings)
        except (StoreUnavailable, PayloadTooLarge) as exc:
            return to_response(current.views.failure(head_request(), exc, route=route))
        return to_response(current.views.dispatch(route, incoming, found.identity, params))

    view.__name__ = route.name
    return view


def _blueprint(routes: Sequence[Route]) -> Blueprint:
    folder = resources.files("doorward").joinpath("templates/html")
    blueprint = Blueprint("doorward", __name__, template_folder=str(folder))
    for route in routes:
        blueprint.add_url_rule(
            route.path.replace("{", "<").replace("}", ">"),
            endpoint=f"{route.name}_{route.method.lower()}",
            view_func=_view(route),
            methods=[route.method],
        )
    return blueprint
