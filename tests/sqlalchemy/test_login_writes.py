"""The SQLAlchemy store's one-statement and one-transaction paths of a login and a
registration (issue 17): the same results as the separate calls they replace."""

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from doorward import Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import WriteRefused
from doorward.records import Authenticator, Credential, NewUser
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RoleMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, stored: str | None, password: str) -> bool:
        return stored == "plain$" + password

    def needs_rehash(self, stored: str) -> bool:
        return False


@pytest.fixture
def engine(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/login.sqlite3")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    return SQLAlchemyStore(engine, default_models())


def new_user(email: str = "ada@example.test") -> NewUser:
    return NewUser(
        email=email,
        normalized_email=email,
        password_hash="plain$" + PASSWORD,
        security_stamp="stamp",
        created_at=T0,
    )


def credential(user, kind="session", suffix="1") -> Credential:
    return Credential(
        id=f"c{kind}{suffix}",
        user_id=str(user.id),
        kind=kind,
        secret_hash=f"hash-{kind}-{suffix}",
        stamp=user.security_stamp,
        created_at=T0,
        expires_at=T0 + timedelta(days=1),
    )


def factor(user, kind, secret, minutes, confirmed=True) -> Authenticator:
    at = T0 + timedelta(minutes=minutes)
    return Authenticator(
        id=f"a{secret}",
        user_id=str(user.id),
        kind=kind,
        secret=secret,
        created_at=at,
        confirmed_at=at if confirmed else None,
    )


def test_login_writes_record_the_login_and_store_the_credentials(store):
    user = store.create_user(new_user())
    session, remember = credential(user), credential(user, "remember")
    updated = store.record_login_with_credentials(user, T0, "192.0.2.1", [session, remember])
    assert (updated.login_count, updated.current_login_at, updated.current_login_ip) == (
        1,
        T0,
        "192.0.2.1",
    )
    for stored in (session, remember):
        found = store.get_credential(stored.kind, stored.secret_hash)
        assert found is not None
        assert found[0] == stored
        assert found[1].id == user.id


def test_a_credential_that_cannot_be_stored_counts_no_login(store):
    """One transaction: the login is recorded with its session or not at all."""
    user = store.create_user(new_user())
    taken = credential(user)
    store.create_credential(taken)
    with pytest.raises(WriteRefused):
        store.record_login_with_credentials(user, T0, None, [taken])
    assert store.get_user(str(user.id)).login_count == 0


def test_login_writes_of_a_deleted_user_store_nothing(store):
    user = store.create_user(new_user())
    store.delete_user(user)
    assert store.record_login_with_credentials(user, T0, None, [credential(user)]) is None
    assert store.get_credential("session", "hash-session-1") is None


def test_the_login_lookup_brings_the_users_authenticators(store):
    ada = store.create_user(new_user())
    bob = store.create_user(new_user("bob@example.test"))
    assert store.get_user_by_email_with_authenticators("nobody@example.test") is None
    found, factors = store.get_user_by_email_with_authenticators("ada@example.test")
    assert (found.id, found.email, factors) == (ada.id, "ada@example.test", [])
    for made in (
        factor(ada, "recovery", "r1", 2),
        factor(ada, "totp", "t1", 1, confirmed=False),
        factor(bob, "totp", "t2", 0),
    ):
        store.create_authenticator(made)
    found, factors = store.get_user_by_email_with_authenticators("ada@example.test")
    assert found.id == ada.id
    assert factors == store.list_authenticators(str(ada.id))
    assert [a.secret for a in factors] == ["t1", "r1"]


class ValidatedBase(DeclarativeBase):
    """A separate base: the application's own models."""


class ValidatedUser(UserMixin, ValidatedBase):
    """A user model with an ORM validator: ``create_user`` must go through the ORM."""

    __tablename__ = "validated_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    seen: ClassVar[list[str]] = []

    @validates("email")
    def _check_email(self, _key: str, value: str) -> str:
        self.seen.append(value)
        return value


class ValidatedRole(RoleMixin, ValidatedBase):
    __tablename__ = "validated_roles"


class ValidatedUserRole(UserRoleMixin, ValidatedBase):
    __tablename__ = "validated_user_roles"
    __doorward_user_key__ = "validated_users.id"
    __doorward_role_key__ = "validated_roles.id"


class ValidatedCredential(CredentialMixin, ValidatedBase):
    __tablename__ = "validated_credentials"
    __doorward_user_key__ = "validated_users.id"


def test_a_model_with_a_validator_keeps_the_orm_and_the_separate_lookups(engine):
    ValidatedBase.metadata.create_all(engine)
    store = SQLAlchemyStore(
        engine, Models(ValidatedUser, ValidatedRole, ValidatedUserRole, ValidatedCredential)
    )
    store.create_user(new_user())
    assert ValidatedUser.seen == ["ada@example.test"]
    # no authenticators table: the login looks the user up alone
    assert store.get_user_by_email_with_authenticators is None


def test_a_login_is_three_statements_and_one_commit(engine, store):
    """The user with their factors, the login recorded with the new session's insert."""
    auth = Auth(
        Settings(secret_keys="k" * 40, base_url="https://x.example.com", rate_limits={}),
        store,
        mailer=Outbox(),
        hasher=PlainHasher(),
    )
    auth.create_user("ada@example.com", PASSWORD, confirmed=True)
    statements = []

    def count(_conn, _cursor, statement, *_):
        statements.append(statement.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", count)
    commits = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    user, issued = auth.login("ada@example.com", PASSWORD)
    sa.event.remove(engine, "before_cursor_execute", count)
    assert statements == ["SELECT", "UPDATE", "INSERT"]
    assert len(commits) == 1
    assert user.login_count == 1
    assert auth.authenticate(session_token=issued.token).user.id == user.id


def test_registration_is_one_insert(engine, store):
    auth = Auth(
        Settings(secret_keys="k" * 40, base_url="https://x.example.com", rate_limits={}),
        store,
        mailer=Outbox(),
        hasher=PlainHasher(),
    )
    statements = []

    def count(_conn, _cursor, statement, *_):
        statements.append(statement.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", count)
    user = auth.register("ada@example.com", PASSWORD)
    sa.event.remove(engine, "before_cursor_execute", count)
    assert statements == ["INSERT"]
    stored = store.get_user(str(user.id))
    assert (stored.email, stored.active, stored.failed_logins, stored.login_count) == (
        "ada@example.com",
        True,
        0,
        0,
    )
