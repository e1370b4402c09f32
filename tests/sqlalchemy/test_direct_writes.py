"""The login's and the registration's writes through the DB-API cursor (``_direct.DirectWrites``,
SQLite and PostgreSQL): the same rows as through SQLAlchemy, one transaction (a login whose
session cannot be stored counts no login), a taken address still ``EmailTaken``, the
columns' defaults filled in, anything SQLAlchemy would do more for sent through it, and
driver faults that become ``StoreUnavailable`` (FT-01)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorward.exceptions import EmailTaken, StoreUnavailable, WriteRefused
from doorward.records import Credential, NewUser
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import (
    Base,
    CredentialMixin,
    Models,
    RoleMixin,
    UserMixin,
    UserRoleMixin,
)
from tests.sqlalchemy.test_direct_lookup import through_sqlalchemy

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def new_user(email: str, **extra: object) -> NewUser:
    return NewUser(
        email=email,
        normalized_email=email.lower(),
        password_hash="stub$x",
        active=True,
        confirmed_at=NOW,
        security_stamp=secrets.token_hex(16),
        created_at=NOW,
        extra=dict(extra),
    )


def session_of(user, *, key: str | None = None) -> Credential:
    return Credential(
        id=key or secrets.token_hex(16),
        user_id=str(user.id),
        kind="session",
        secret_hash=secrets.token_hex(32),
        stamp=user.security_stamp,
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
        last_used_at=NOW,
        authenticated_at=NOW,
        ip="192.0.2.7",
        user_agent="tests",
    )


def values_of(user) -> dict:
    keys = [p.key for p in sa.inspect(type(user)).column_attrs]
    return {key: getattr(user, key) for key in keys if key != "id"}


def credential_rows(engine: sa.Engine) -> list[tuple]:
    """The stored sessions, without what differs from one to the next (id, user, secret)."""
    table = default_models().credential.__table__
    names = ("kind", "created_at", "expires_at", "last_used_at", "authenticated_at", "ip")
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*(table.c[name] for name in names)))
        return [tuple(row) for row in rows]


def test_direct_writes_run_where_they_can(engine):
    store = SQLAlchemyStore(engine, default_models())
    direct = engine.dialect.name in {"sqlite", "postgresql"}
    assert (store._writes is not None) is direct
    assert (store._direct_record_login is not None) is direct


def test_the_direct_writes_give_what_sqlalchemy_gives(engine):
    """Registration and login through the cursor, then the same through SQLAlchemy (a
    listener on statements sends them there): the same users and the same sessions."""
    store = SQLAlchemyStore(engine, default_models())
    direct = store.create_user(new_user("Direct@Example.com"))
    direct = store.record_login_with_credentials(direct, NOW, "192.0.2.7", [session_of(direct)])
    seen, stop = through_sqlalchemy(engine)
    plain = store.create_user(new_user("Plain@Example.com"))
    plain = store.record_login_with_credentials(plain, NOW, "192.0.2.7", [session_of(plain)])
    stop()
    assert seen  # that pair went through SQLAlchemy
    assert type(direct) is type(plain)
    assert not sa.inspect(direct).transient  # detached instances, as the ORM path gives
    got, want = values_of(direct), values_of(plain)
    for key in ("email", "normalized_email", "security_stamp"):
        got.pop(key), want.pop(key)
    assert got == want
    assert direct.login_count == 1
    assert direct.current_login_at == NOW
    assert direct.current_login_at.tzinfo is UTC
    assert direct.current_login_ip == "192.0.2.7"
    assert direct.failed_logins == 0
    stored = store.get_user(str(direct.id))
    assert values_of(stored) == values_of(direct)
    rows = credential_rows(engine)
    assert len(rows) == 2
    assert rows[0] == rows[1]
    assert rows[0] == ("session", NOW, NOW + timedelta(days=1), NOW, NOW, "192.0.2.7")
    found = store.get_user_by_email("direct@example.com")
    assert found is not None
    assert found.id == direct.id


def test_a_second_login_replaces_the_current_login_with_the_last(engine):
    store = SQLAlchemyStore(engine, default_models())
    user = store.create_user(new_user("twice@example.com"))
    user = store.record_login_with_credentials(user, NOW, "192.0.2.1", [session_of(user)])
    later = NOW + timedelta(hours=1)
    user = store.record_login_with_credentials(user, later, "192.0.2.2", [session_of(user)])
    assert (user.last_login_at, user.last_login_ip) == (NOW, "192.0.2.1")
    assert (user.current_login_at, user.current_login_ip) == (later, "192.0.2.2")
    assert user.login_count == 2


def test_ft03_di01_a_login_whose_session_is_refused_counts_no_login(engine):
    """The session's INSERT is refused (its id is taken): the login's UPDATE before it in
    the same transaction is rolled back, and the store says the write was refused."""
    store = SQLAlchemyStore(engine, default_models())
    user = store.create_user(new_user("atomic@example.com"))
    user = store.record_login_with_credentials(
        user, NOW, "192.0.2.1", [session_of(user, key="a" * 32)]
    )
    later = NOW + timedelta(hours=1)
    with pytest.raises(WriteRefused):
        store.record_login_with_credentials(
            user,
            later,
            "192.0.2.9",
            [session_of(user, key="b" * 32), session_of(user, key="a" * 32)],
        )
    stored = store.get_user(str(user.id))
    assert stored.login_count == 1
    assert stored.current_login_ip == "192.0.2.1"
    assert len(credential_rows(engine)) == 1
    again = store.record_login_with_credentials(stored, later, "192.0.2.9", [session_of(user)])
    assert again.login_count == 2  # the connection went back to the pool in a usable state


def test_a_login_of_a_deleted_user_writes_nothing(engine):
    store = SQLAlchemyStore(engine, default_models())
    user = store.create_user(new_user("gone@example.com"))
    store.delete_user(user)
    assert store.record_login_with_credentials(user, NOW, None, [session_of(user)]) is None
    assert credential_rows(engine) == []


def test_le06_a_taken_address_is_identity_taken_and_writes_nothing(engine):
    store = SQLAlchemyStore(engine, default_models())
    first = store.create_user(new_user("taken@example.com"))
    with pytest.raises(EmailTaken):
        store.create_user(new_user("taken@example.com"))
    users = default_models().user.__table__
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1
    assert store.create_user(new_user("next@example.com")).id != first.id


class CustomBase(DeclarativeBase):
    pass


def plan() -> str:
    return "free"


class Member(UserMixin, CustomBase):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(sa.String(20), default="basic")
    plan: Mapped[str] = mapped_column(sa.String(20), default=plan)
    joined: Mapped[str] = mapped_column(sa.String(20), server_default="yes")


class Group(RoleMixin, CustomBase):
    __tablename__ = "roles"


class Membership(UserRoleMixin, CustomBase):
    __tablename__ = "user_roles"


class Login(CredentialMixin, CustomBase):
    __tablename__ = "credentials"


def test_defaults_of_the_applications_columns_are_applied(tmp_path):
    """A scalar default is filled in on the direct path; a callable default is SQLAlchemy's
    to call, so that INSERT goes through SQLAlchemy; server defaults come back."""
    engine = sqlite_engine(f"sqlite:///{tmp_path}/custom.sqlite3")
    models = Models(Member, Group, Membership, Login)
    CustomBase.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, models)
    seen, _ = through_sqlalchemy(engine)
    user = store.create_user(new_user("custom@example.com"))
    assert (user.tier, user.plan, user.joined) == ("basic", "free", "yes")
    assert len(seen) == 1  # the callable default: through SQLAlchemy
    assert store._direct_insert(store._insert_user, {"email": "x", "tier": "x"}, ()) is None
    assert (
        store._direct_insert(
            store._insert_user,
            {**dict.fromkeys(new_user("x@example.com").as_fields()), "plan": "pro"},
            (),
        )
        is not None
    )
    engine.dispose()


def test_direct_writes_honour_the_engine_settings(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/settings.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    assert store._direct_writes() is not None
    began: list[object] = []

    def on_begin(connection):
        began.append(connection)

    sa.event.listen(engine, "begin", on_begin)
    assert store._direct_writes() is None
    user = store.create_user(new_user("seen@example.com"))
    store.record_login_with_credentials(user, NOW, None, [session_of(user)])
    assert len(began) == 2
    sa.event.remove(engine, "begin", on_begin)
    assert store._direct_writes() is not None
    with store.transaction():
        assert store._direct_writes() is None  # the block's connection is written through
    echoing = sqlite_engine(f"sqlite:///{tmp_path}/settings.sqlite3", echo=True)
    assert SQLAlchemyStore(echoing, default_models())._direct_writes() is None


def test_ft01_direct_writes_without_tables_are_store_unavailable(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/empty.sqlite3")
    store = SQLAlchemyStore(engine, default_models())
    with pytest.raises(StoreUnavailable) as info:
        store.create_user(new_user("none@example.com"))
    assert "INSERT" not in str(info.value)
    assert engine.pool.checkedout() == 0


def test_ft01_a_killed_connection_fails_the_login_once_then_is_replaced(postgres_database):
    engine = sa.create_engine(postgres_database, pool_size=1, max_overflow=0)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    user = store.create_user(new_user("killed@example.com"))
    connection = engine.raw_connection()
    cursor = connection.cursor()
    cursor.execute("SELECT pg_backend_pid()")
    pid = int(cursor.fetchone()[0])
    cursor.close()
    connection.close()
    admin = sa.create_engine(postgres_database, poolclass=sa.pool.NullPool)
    with admin.connect() as other:
        other.execute(sa.text(f"SELECT pg_terminate_backend({pid})"))
        other.commit()
    admin.dispose()
    with pytest.raises(StoreUnavailable):
        store.record_login_with_credentials(user, NOW, None, [session_of(user)])
    assert engine.pool.checkedout() == 0
    assert store.record_login_with_credentials(user, NOW, None, [session_of(user)]).login_count == 1
    engine.dispose()
