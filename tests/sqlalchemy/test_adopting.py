"""The new user's trial, repeated (issue 12): an existing Flask-SQLAlchemy app whose own
``User`` has a NOT NULL ``company_id`` and a lazy ``company`` relationship."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from doorward import Argon2Params, Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import ConfigurationError
from doorward.fields import Field
from doorward_flask import Doorward, current_user, login_required
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RoleMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
)

PASSWORD = "correct horse battery staple"


def make_app(tmp_path, **settings_overrides):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/trial.sqlite3"
    db = SQLAlchemy(app)

    class Company(db.Model):  # type: ignore[name-defined]
        __tablename__ = "companies"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(50))

    class User(UserMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"))
        company: Mapped[Company] = relationship(lazy="select")

    class Role(RoleMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "roles"

    class UserRole(UserRoleMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "user_roles"

    class Credential(CredentialMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "credentials"

    with app.app_context():
        db.create_all()
        db.session.add(Company(id=7, name="Acme Widgets"))
        db.session.commit()
        store = SQLAlchemyStore(
            db.engine, Models(User, Role, UserRole, Credential), session=db.session
        )
        outbox = Outbox()
        settings = Settings(
            secret_keys="trial-secret-key-0123456789abcdefghij",
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            **settings_overrides,
        )
        Doorward(app, auth=Auth(settings, store, mailer=outbox))

    @app.get("/company")
    @login_required
    def company():
        return f"You work at {current_user.company.name}"

    return app, outbox


def test_trial_refuses_to_start_naming_the_column(tmp_path):
    """Without a declared field, start-up stops and names company_id."""
    with pytest.raises(ConfigurationError, match="company_id"):
        make_app(tmp_path)


def test_trial_registers_stores_and_shows_the_lazy_relationship(tmp_path):
    """With company_id declared, the register page takes it, the row stores it, and a view
    reads current_user.company.name through the lazy relationship."""
    app, outbox = make_app(
        tmp_path, signup_fields=[Field("company_id", kind=int, required=True, label="Company")]
    )
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")
    page = http.get("/auth/register")
    assert 'name="company_id"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        "/auth/register",
        data={
            "csrf_token": csrf,
            "email": "ann@example.com",
            "password": PASSWORD,
            "company_id": "7",
        },
    )
    assert answer.status_code == 202, answer.text
    link = re.search(
        r"https://app\.example\.com(/auth/confirm/\S+)", outbox.messages[-1].text
    ).group(1)
    confirm_page = http.get(link)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', confirm_page.text).group(1)
    assert http.post(link, data={"csrf_token": csrf}).status_code == 303
    login_page = http.get("/auth/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
    logged_in = http.post(
        "/auth/login", data={"csrf_token": csrf, "email": "ann@example.com", "password": PASSWORD}
    )
    assert logged_in.status_code == 303
    assert http.get("/company").text == "You work at Acme Widgets"
