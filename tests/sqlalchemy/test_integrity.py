"""DI-01 on SQLAlchemy: only the unique normalised email is "email taken"; any other refused
write is ``WriteRefused`` (500, ERROR log with the constraint, nothing stored); a required app
column that nothing fills stops start-up; declared sign-up fields fill it, on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorward import Argon2Params, Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import ConfigurationError, EmailTaken, WriteRefused
from doorward.fields import Field
from doorward.records import NewUser
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


class Company(Base):
    __tablename__ = "di_companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Employee(UserMixin, Base):
    """A user model with a NOT NULL foreign key without default, a check and a unique nick."""

    __tablename__ = "di_employees"
    __table_args__ = (sa.CheckConstraint("shoe_size BETWEEN 1 AND 60", name="ck_shoe_size"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("di_companies.id"))
    shoe_size: Mapped[int] = mapped_column(default=42)
    nick: Mapped[str | None] = mapped_column(sa.String(30), unique=True, default=None)


class Team(RoleMixin, Base):
    __tablename__ = "di_roles"


class TeamMember(UserRoleMixin, Base):
    __tablename__ = "di_user_roles"
    __doorward_user_key__ = "di_employees.id"
    __doorward_role_key__ = "di_roles.id"


class Badge(CredentialMixin, Base):
    __tablename__ = "di_credentials"
    __doorward_user_key__ = "di_employees.id"


MODELS = Models(Employee, Team, TeamMember, Badge)


def settings(**overrides):
    values = {
        "secret_keys": "integrity-tests-secret-key-0123456789ab",
        "base_url": "https://app.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def engine(request, tmp_path):
    if request.param == "sqlite":
        made = sqlite_engine(f"sqlite:///{tmp_path}/di.sqlite3")
    else:
        fixture = "postgres_database" if request.param == "postgres" else "mariadb_database"
        made = sa.create_engine(request.getfixturevalue(fixture))
    Base.metadata.drop_all(made)
    Base.metadata.create_all(made)
    with made.begin() as connection:
        connection.execute(sa.insert(Company).values(id=1, name="Acme"))
    yield made
    Base.metadata.drop_all(made)
    made.dispose()


def new_user(email, **extra):
    return NewUser(
        email=email,
        normalized_email=email.lower(),
        password_hash=None,
        security_stamp="stamp",
        created_at=__import__("datetime").datetime(2030, 1, 1, tzinfo=__import__("datetime").UTC),
        extra=extra,
    )


def count(engine):
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(Employee)).scalar()


def test_di01_required_column_refused_at_start_up(engine):
    """An app column that is NOT NULL without default and filled by nothing stops start-up."""
    store = SQLAlchemyStore(engine, MODELS)
    assert store.required_fields() == frozenset({"company_id"})
    with pytest.raises(ConfigurationError, match="company_id"):
        Auth(settings(), store)
    declared = settings(signup_fields=[Field("company_id", kind=int, required=True)])
    assert Auth(declared, store).enabled("registration")


def test_di01_only_the_email_index_is_email_taken(engine, caplog):
    """A duplicate email is EmailTaken; a foreign key, a check or another unique index is
    WriteRefused, logged at ERROR with the driver's words, and writes nothing."""
    store = SQLAlchemyStore(engine, MODELS)
    store.create_user(new_user("ada@example.com", company_id=1, nick="ada"))
    with pytest.raises(EmailTaken):
        store.create_user(new_user("ADA@example.com".lower(), company_id=1))
    caplog.set_level(logging.ERROR, logger="doorward.sqlalchemy")
    for extra in (
        {"company_id": 999},
        {"company_id": 1, "shoe_size": 99},
        {"company_id": 1, "nick": "ada"},
    ):
        caplog.clear()
        with pytest.raises(WriteRefused):
            store.create_user(new_user("bob@example.com", **extra))
        assert any(
            r.levelno == logging.ERROR and "create_user refused" in r.getMessage()
            for r in caplog.records
        )
    assert count(engine) == 1


def test_di01_refused_sign_up_is_never_a_success_over_http(engine, caplog):
    """Registration whose row the database refuses answers 500 write_refused, mails nothing,
    stores nothing; with the field declared and valid it registers and stores the value."""
    outbox = Outbox()
    fields = [Field("company_id", kind=int, required=True), Field("shoe_size", kind=int)]
    auth = Auth(settings(signup_fields=fields), SQLAlchemyStore(engine, MODELS), mailer=outbox)
    app = Flask(__name__)
    from doorward_flask import Doorward

    Doorward(app, auth=auth)
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")
    csrf = http.get("/auth/csrf", headers={"Accept": "application/json"}).json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    caplog.set_level(logging.ERROR, logger="doorward.sqlalchemy")
    refused = http.post(
        "/auth/register",
        json={"email": "bob@example.com", "password": PASSWORD, "company_id": 1, "shoe_size": 99},
        headers=headers,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (500, "write_refused")
    assert "ck_shoe_size" not in refused.text
    assert outbox.messages == []
    assert count(engine) == 0
    missing = http.post(
        "/auth/register", json={"email": "bob@example.com", "password": "short"}, headers=headers
    )
    assert missing.status_code == 400
    assert {"password", "company_id"} <= set(missing.json()["error"]["fields"])
    made = http.post(
        "/auth/register",
        json={
            "email": "bob@example.com",
            "password": PASSWORD,
            "company_id": "1",
            "roles": ["admin"],
        },
        headers=headers,
    )
    assert made.status_code == 202
    with engine.connect() as connection:
        row = connection.execute(sa.select(Employee.company_id, Employee.shoe_size)).one()
    assert tuple(row) == (1, 42)
    assert [m.kind for m in outbox.messages] == ["confirm"]
