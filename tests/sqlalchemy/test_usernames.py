"""Username login (issue 12): with ``username_field`` set, registration takes a username
(normalised, unique) and login accepts it in place of the email, on a SQLAlchemy model
with a unique username column; the usernames store contract on that model."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorward import Argon2Params, Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import InvalidCredentials, ValidationFailed
from doorward.testing import UsernamesContract
from doorward_flask import Doorward
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RoleMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
    sqlite_engine,
)

PASSWORD = "correct horse battery staple"


class Base(DeclarativeBase):
    """The app's base."""


class Handle(UserMixin, Base):
    __tablename__ = "handles"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(sa.String(40), unique=True, default=None)


class HandleRole(RoleMixin, Base):
    __tablename__ = "handle_roles"


class HandleUserRole(UserRoleMixin, Base):
    __tablename__ = "handle_user_roles"
    __doorward_user_key__ = "handles.id"
    __doorward_role_key__ = "handle_roles.id"


class HandleCredential(CredentialMixin, Base):
    __tablename__ = "handle_credentials"
    __doorward_user_key__ = "handles.id"


MODELS = Models(Handle, HandleRole, HandleUserRole, HandleCredential)


def make_store(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/names.sqlite3")
    Base.metadata.create_all(engine)
    return SQLAlchemyStore(engine, MODELS)


@pytest.fixture
def store(tmp_path):
    made = make_store(tmp_path)
    yield made
    made.engine.dispose()


class TestUsernamesOnSQLite(UsernamesContract):
    """The usernames capability on a model with a unique username column."""

    @pytest.fixture
    def store(self, tmp_path):
        made = make_store(tmp_path)
        yield made
        made.engine.dispose()


class CountingHasher:
    """Counts verify calls around the real hasher (LE-02)."""

    def __init__(self, inner):
        self.inner, self.verifies = inner, 0

    def hash(self, password):
        return self.inner.hash(password)

    def verify(self, stored, password):
        self.verifies += 1
        return self.inner.verify(stored, password)

    def needs_rehash(self, stored):
        return self.inner.needs_rehash(stored)


def make_auth(store):
    settings = Settings(
        secret_keys="usernames-secret-key-0123456789abcdefgh",
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
        username_field="username",
        confirm_required=False,
    )
    from doorward.hashing import Argon2Hasher

    hasher = CountingHasher(Argon2Hasher.from_settings(settings))
    return Auth(settings, store, mailer=Outbox(), hasher=hasher), hasher


def test_register_and_log_in_by_username(store):
    """The username is stored normalised, unique, and logs in in any case; email still works;
    an unknown username costs one hash and fails like a wrong password (LE-01, LE-02)."""
    auth, hasher = make_auth(store)
    user = auth.register("ada@example.com", PASSWORD, fields={"username": "Ada_L"})
    assert user.username == "ada_l"
    assert auth.login("ADA_L", PASSWORD)[0].email == "ada@example.com"
    assert auth.login("ada@example.com", PASSWORD)[0].username == "ada_l"
    with pytest.raises(ValidationFailed) as taken:
        auth.register("eve@example.com", PASSWORD, fields={"username": "ada_L"})
    assert "username" in taken.value.fields
    for bad in ({}, {"username": "a"}, {"username": "has space"}, {"username": "x@y"}):
        with pytest.raises(ValidationFailed):
            auth.register("bob@example.com", PASSWORD, fields=bad)
    before = hasher.verifies
    with pytest.raises(InvalidCredentials):
        auth.login("nobody_here", PASSWORD)
    with pytest.raises(InvalidCredentials):
        auth.login("ada_l", "a wrong password of some length")
    assert hasher.verifies - before == 2


def test_username_over_http(store):
    """The login and register pages ask for the username; a JSON login by username works."""
    auth, _ = make_auth(store)
    auth.register("ada@example.com", PASSWORD, fields={"username": "ada"})
    app = Flask(__name__)
    Doorward(app, auth=auth)
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")
    assert "Email or username" in http.get("/auth/login").text
    assert 'name="username"' in http.get("/auth/register").text
    token = http.get("/auth/csrf", headers={"Accept": "application/json"}).json()["csrf_token"]
    answer = http.post(
        "/auth/login", json={"email": "ADA", "password": PASSWORD}, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["email"] == "ada@example.com"
