"""The feature seam, proven from outside the core: the test-only "terms" feature
(``tests/features/_async_terms.py``) plugs into Flask and Starlette, on the memory,
SQLAlchemy and Mongo stores, without any core file knowing about it."""

from __future__ import annotations

import contextlib
import functools
import secrets
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from anyio.from_thread import start_blocking_portal
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette

from doorward import (
    Argon2Params,
    AsyncAuth,
    AsyncMemoryStore,
    Auth,
    MemoryStore,
    Settings,
)
from doorward._async.mailers import AsyncOutbox
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.exceptions import ConfigurationError
from doorward.threaded import AsyncThreadedStore
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RoleMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
    sqlite_engine,
)
from tests.features.terms import AsyncTerms, Terms
from tests.http.site_starlette import PortalTransport

PASSWORD = "correct horse battery staple"
VERSION = "2026-12"
JSON = {"Accept": "application/json"}


class TermsBase(DeclarativeBase):
    """The application's base, with a user model that has the feature's column."""


class TermsUser(UserMixin, TermsBase):
    __tablename__ = "terms_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    terms_version: Mapped[str | None] = mapped_column(sa.String(20), default=None)


class TermsRole(RoleMixin, TermsBase):
    __tablename__ = "terms_roles"


class TermsUserRole(UserRoleMixin, TermsBase):
    __tablename__ = "terms_user_roles"
    __doorward_user_key__ = "terms_users.id"
    __doorward_role_key__ = "terms_roles.id"


class TermsCredential(CredentialMixin, TermsBase):
    __tablename__ = "terms_credentials"
    __doorward_user_key__ = "terms_users.id"


MODELS = Models(TermsUser, TermsRole, TermsUserRole, TermsCredential)


def settings(**overrides):
    values = {
        "secret_keys": "terms-feature-secret-key-0123456789abcdef",
        "base_url": "https://app.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
    }
    values.update(overrides)
    return Settings(**values)


def sync_store(kind, tmp_path, request):
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlalchemy":
        engine = sqlite_engine(f"sqlite:///{tmp_path}/terms.sqlite3")
        TermsBase.metadata.create_all(engine)
        return SQLAlchemyStore(engine, MODELS)
    from doorward_mongo import MongoStore

    store = MongoStore(request.getfixturevalue("sync_client"), f"terms_{secrets.token_hex(4)}")
    store.ensure_indexes()
    return store


class FlaskSite:
    """A Flask app whose ``Auth`` has the terms feature."""

    def __init__(self, store, **overrides):
        from doorward_flask import Doorward

        self.outbox = Outbox()
        self.events = []
        self.auth = Auth(
            settings(**overrides),
            store,
            mailer=self.outbox,
            clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
            features=[functools.partial(Terms, version=VERSION)],
        )
        if self.auth.enabled("terms"):
            self.auth.events.connect("terms_accepted", lambda name, **f: self.events.append(f))
        app = Flask(__name__)
        Doorward(app, auth=self.auth)
        self.client = httpx.Client(
            transport=httpx.WSGITransport(app=app), base_url="https://testserver"
        )

    def create_user(self, email):
        return self.auth.create_user(email, PASSWORD, confirmed=True)

    def close(self):
        self.client.close()


class StarletteSite:
    """A Starlette app whose ``AsyncAuth`` has the terms feature, on one event loop."""

    def __init__(self, store, **overrides):
        from doorward_starlette import Doorward

        self.stack = contextlib.ExitStack()
        self.portal = self.stack.enter_context(start_blocking_portal())
        self.outbox = AsyncOutbox()
        self.events = []
        self.auth = AsyncAuth(
            settings(**overrides),
            store,
            mailer=self.outbox,
            clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
            features=[functools.partial(AsyncTerms, version=VERSION)],
        )
        if self.auth.enabled("terms"):
            self.auth.events.connect("terms_accepted", lambda name, **f: self.events.append(f))
        doorward = Doorward(auth=self.auth)
        app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
        self.client = httpx.Client(
            transport=PortalTransport(app, self.portal), base_url="https://testserver"
        )

    def create_user(self, email):
        return self.portal.call(
            functools.partial(self.auth.create_user, email, PASSWORD, confirmed=True)
        )

    def close(self):
        self.client.close()
        self.stack.close()


VARIANTS = [
    "flask-memory",
    "starlette-memory",
    "flask-sqlalchemy",
    "starlette-sqlalchemy",
    pytest.param("flask-mongo", marks=pytest.mark.mongo),
    pytest.param("starlette-mongo", marks=pytest.mark.mongo),
]


@pytest.fixture(params=VARIANTS)
def make_site(request, tmp_path):
    framework, store_kind = request.param.split("-")
    made = []

    def make(**overrides):
        store = sync_store(store_kind, tmp_path / str(len(made)), request)
        if framework == "flask":
            site = FlaskSite(store, **overrides)
        else:
            site = StarletteSite(AsyncThreadedStore(store), **overrides)
        made.append(site)
        return site

    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield make
    for site in made:
        site.close()


def log_in(client, email):
    token = client.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    answer = client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token, **JSON},
    )
    assert answer.status_code == 200, answer.text
    return client.get("/auth/csrf", headers=JSON).json()["csrf_token"]


def test_terms_feature_plugs_into_adapter_and_store(make_site):
    """POST /terms stores the version on the user, shows it in /me, mails and emits once."""
    site = make_site()
    site.create_user("ada@example.com")
    csrf = log_in(site.client, "ada@example.com")
    before = site.client.get("/auth/me", headers=JSON).json()["user"]
    assert before["terms_version"] is None
    answer = site.client.post(
        "/auth/terms", json={"version": VERSION}, headers={"X-CSRF-Token": csrf, **JSON}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"terms": {"accepted": VERSION}}
    assert site.client.get("/auth/me", headers=JSON).json()["user"]["terms_version"] == VERSION
    [mail] = [m for m in site.outbox.messages if m.kind == "terms_accepted"]
    assert mail.to == "ada@example.com"
    assert f"version {VERSION}" in mail.text
    assert "https://app.example.com/auth/me" in mail.text
    assert [event["version"] for event in site.events] == [VERSION]


def test_terms_feature_validates_and_guards(make_site):
    """A wrong version is a 400 naming the field (the form again in HTML); anonymous is 401;
    a missing CSRF token is 403."""
    site = make_site()
    site.create_user("ada@example.com")
    anonymous = site.client.post("/auth/terms", json={"version": VERSION}, headers=JSON)
    assert anonymous.status_code in {401, 403}
    csrf = log_in(site.client, "ada@example.com")
    assert site.client.post("/auth/terms", json={"version": VERSION}).status_code == 403
    wrong = site.client.post(
        "/auth/terms", json={"version": "1999"}, headers={"X-CSRF-Token": csrf, **JSON}
    )
    assert wrong.status_code == 400
    assert "version" in wrong.json()["error"]["fields"]
    page = site.client.post(
        "/auth/terms", data={"version": "1999", "csrf_token": csrf}, headers={"Accept": "text/html"}
    )
    assert page.status_code == 400
    assert "The current terms are 2026-12." in page.text
    assert 'name="version"' in page.text
    assert site.client.get("/auth/me", headers=JSON).json()["user"]["terms_version"] is None
    assert site.events == []


def test_terms_feature_switched_off_is_404(make_site):
    """With the feature in ``disabled_features`` its route does not exist."""
    site = make_site(disabled_features=["terms"])
    site.create_user("ada@example.com")
    csrf = log_in(site.client, "ada@example.com")
    answer = site.client.post(
        "/auth/terms", json={"version": VERSION}, headers={"X-CSRF-Token": csrf, **JSON}
    )
    assert answer.status_code == 404
    assert "terms_version" not in site.client.get("/auth/me", headers=JSON).json()["user"]


class UsersOnlyStore:
    """A store with the users and credentials capabilities but no profiles (update_profile)."""

    def __init__(self):
        self.inner = MemoryStore()

    def __getattr__(self, name):
        if name == "update_profile":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_feature_refuses_to_start_without_its_capability():
    """A feature whose store lacks a capability stops start-up naming the missing method."""
    with pytest.raises(ConfigurationError, match=r"'terms'.*Profiles.*update_profile"):
        Auth(settings(), UsersOnlyStore(), features=[functools.partial(Terms, version=VERSION)])
    with pytest.raises(ConfigurationError, match="update_profile"):
        AsyncAuth(
            settings(),
            AsyncThreadedStore(UsersOnlyStore()),
            features=[functools.partial(AsyncTerms, version=VERSION)],
        )
    assert Auth(
        settings(disabled_features=["terms"]),
        UsersOnlyStore(),
        features=[functools.partial(Terms, version=VERSION)],
    ).enabled("login")


def test_disabled_built_in_feature_needs_no_capability_and_has_no_routes():
    """Switching roles off: a store without roles starts, and role lookups are refused."""

    class NoRoles:
        def __init__(self):
            self.inner = AsyncMemoryStore()

        def __getattr__(self, name):
            if "role" in name:
                raise AttributeError(name)
            return getattr(self.inner, name)

    with pytest.raises(ConfigurationError, match="save_role"):
        AsyncAuth(settings(), NoRoles())
    auth = AsyncAuth(settings(disabled_features=["roles", "registration"]), NoRoles())
    assert not auth.enabled("roles")
    paths = {route.path for route in auth.routes()}
    assert "/login" in paths
    assert "/register" not in paths
    with pytest.raises(ConfigurationError, match="unknown features"):
        Auth(settings(disabled_features=["regstration"]), MemoryStore())
    with pytest.raises(ConfigurationError, match="cannot be off"):
        Auth(settings(disabled_features=["login"]), MemoryStore())
