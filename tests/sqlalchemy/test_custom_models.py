"""The application's own models: its table names, extra columns and relationships, with
Flask-SQLAlchemy's ``db.Model`` too, and a clean Alembic autogenerate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from doorward import Argon2Params, Auth, Role, Settings
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.testing import (
    FlowsContract,
    ProfilesContract,
    RefreshTokensContract,
    SignInCodesContract,
    StoreContract,
)
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RefreshTokenMixin,
    RoleMixin,
    SignInCodeMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
    sqlite_engine,
)


class AppBase(DeclarativeBase):
    """The application's own declarative base."""


class Team(AppBase):
    """An application table the user model relates to."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Person(UserMixin, AppBase):
    """The application's user: its own table name, id, columns and relationship."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(80), default=None)
    shoe_size: Mapped[int] = mapped_column(default=42)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"), default=None)
    team: Mapped[Team | None] = relationship(lazy="joined")


class Group(RoleMixin, AppBase):
    __tablename__ = "groups"


class Membership(UserRoleMixin, AppBase):
    __tablename__ = "memberships"
    __doorward_user_key__ = "people.id"
    __doorward_role_key__ = "groups.id"


class Login(CredentialMixin, AppBase):
    __tablename__ = "logins"
    __doorward_user_key__ = "people.id"


class EmailedCode(SignInCodeMixin, AppBase):
    __tablename__ = "emailed_codes"
    __doorward_user_key__ = "people.id"


class AppGrant(RefreshTokenMixin, AppBase):
    __tablename__ = "app_grants"
    __doorward_user_key__ = "people.id"


MODELS = Models(Person, Group, Membership, Login, sign_in_code=EmailedCode, refresh_token=AppGrant)


class Member(UserMixin, AppBase):
    """A user model without relationships (the store loads it with Core statements), whose
    extra attributes are stored under other column names."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column("nick_name", sa.String(80), default=None)
    shoe_size: Mapped[int] = mapped_column("size_of_shoe", default=42)


class MemberGroup(RoleMixin, AppBase):
    __tablename__ = "member_groups"


class MemberInGroup(UserRoleMixin, AppBase):
    __tablename__ = "member_in_groups"
    __doorward_user_key__ = "members.id"
    __doorward_role_key__ = "member_groups.id"


class MemberLogin(CredentialMixin, AppBase):
    """A credential model with a column of the application's, filled by its default."""

    __tablename__ = "member_logins"
    __doorward_user_key__ = "members.id"
    device: Mapped[str] = mapped_column("device_label", sa.String(20), default="web")


class MemberCode(SignInCodeMixin, AppBase):
    __tablename__ = "member_codes"
    __doorward_user_key__ = "members.id"


class MemberGrant(RefreshTokenMixin, AppBase):
    __tablename__ = "member_grants"
    __doorward_user_key__ = "members.id"


PLAIN_MODELS = Models(
    Member,
    MemberGroup,
    MemberInGroup,
    MemberLogin,
    sign_in_code=MemberCode,
    refresh_token=MemberGrant,
)


@pytest.fixture
def engine(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/app.sqlite3")
    AppBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(
    params=[MODELS, PLAIN_MODELS], ids=["with-relationship", "plain-with-renamed-columns"]
)
def app_store(request, engine):
    """The store on each of the application's model sets (ORM path, then Core path)."""
    return SQLAlchemyStore(engine, request.param)


class TestStoreOnCustomModels(StoreContract):
    """The store contract on the application's own tables, its own fields kept intact."""

    @pytest.fixture
    def store(self, app_store):
        return app_store

    def extra_fields(self, email):
        return {"display_name": email.split("@")[0], "shoe_size": 37}


class TestProfilesOnCustomModels(ProfilesContract):
    """The profiles capability writes the app's own columns (renamed ones too), nothing else."""

    @pytest.fixture
    def store(self, app_store):
        return app_store


class TestFlowsOnCustomModels(FlowsContract):
    """Every flow runs on the application's own tables."""

    @pytest.fixture
    def store(self, app_store):
        return app_store


class TestSignInOnCustomModels(SignInCodesContract, RefreshTokensContract):
    """Sign-in codes and refresh tokens in the application's own tables, a refresh token's
    user loaded by the ORM (relationships) or by the Core join (plain model)."""

    @pytest.fixture
    def store(self, app_store):
        return app_store


def test_plain_model_columns_round_trip(engine):
    """Renamed columns load under their attribute names; the app's credential default is applied."""
    store = SQLAlchemyStore(engine, PLAIN_MODELS)
    auth = Auth(
        Settings(
            secret_keys="custom-models-secret-0123456789abcdef",
            base_url="https://x.example.com",
            argon2=Argon2Params.insecure_for_tests(),
        ),
        store,
        mailer=Outbox(),
    )
    auth.create_user(
        "m@example.com",
        "a long enough passphrase",
        confirmed=True,
        extra={"display_name": "Em", "shoe_size": 39},
    )
    user, issued = auth.login("m@example.com", "a long enough passphrase")
    found = auth.authenticate(session_token=issued.token).user
    assert (user.display_name, user.shoe_size, user.login_count) == ("Em", 39, 1)
    assert (found.display_name, found.shoe_size) == ("Em", 39)
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT nick_name, size_of_shoe FROM members")).one()
        devices = connection.execute(sa.text("SELECT device_label FROM member_logins")).all()
    assert tuple(row) == ("Em", 39)
    assert [tuple(d) for d in devices] == [("web",)]


def test_extra_fields_never_touched(engine):
    """Through registration, login, password and email changes, the app's own columns keep their values."""
    with sa.orm.Session(engine) as session:
        session.add(Team(id=1, name="blue"))
        session.commit()
    store = SQLAlchemyStore(engine, MODELS)
    outbox = Outbox()
    auth = Auth(
        Settings(
            secret_keys="custom-models-secret-0123456789abcdef",
            base_url="https://x.example.com",
            argon2=Argon2Params.insecure_for_tests(),
        ),
        store,
        mailer=outbox,
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )
    user = auth.create_user(
        "a@example.com",
        "a long enough passphrase",
        confirmed=True,
        extra={"display_name": "Ada", "shoe_size": 38, "team_id": 1},
    )
    store.save_role(Role(name="admin", permissions=frozenset({"all"})))
    auth.add_role(user, "admin")
    user, issued = auth.login("a@example.com", "a long enough passphrase")
    identity = auth.authenticate(session_token=issued.token)
    auth.change_password(identity, "a long enough passphrase", "another long passphrase")
    auth.forgot_password("a@example.com")
    token = outbox.messages[-1].text.split("/reset/")[1].split()[0]
    auth.reset_password(token, "the third long passphrase")
    with sa.orm.Session(engine) as session:
        stored = session.get(Person, user.id)
        assert (stored.display_name, stored.shoe_size, stored.team.name) == ("Ada", 38, "blue")
        assert session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 1
    assert (
        auth.authenticate(
            session_token=auth.login("a@example.com", "the third long passphrase")[1].token
        ).user.team.name
        == "blue"
    )


def test_flask_sqlalchemy_db_model(tmp_path):
    """The mixins combine with Flask-SQLAlchemy's db.Model and the store runs on its engine."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/flask.sqlite3"
    db = SQLAlchemy(app)

    class Member(UserMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "members"
        id: Mapped[int] = mapped_column(primary_key=True)
        nickname: Mapped[str | None] = mapped_column(sa.String(40), default=None)

    class Badge(RoleMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "badges"

    class MemberBadge(UserRoleMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "member_badges"
        __doorward_user_key__ = "members.id"
        __doorward_role_key__ = "badges.id"

    class Token(CredentialMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "tokens"
        __doorward_user_key__ = "members.id"

    with app.app_context():
        db.create_all()
        store = SQLAlchemyStore(db.engine, Models(Member, Badge, MemberBadge, Token))
        auth = Auth(
            Settings(
                secret_keys="flask-sqlalchemy-secret-0123456789abcd",
                base_url="https://x.example.com",
                argon2=Argon2Params.insecure_for_tests(),
            ),
            store,
            mailer=Outbox(),
        )
        auth.create_user(
            "m@example.com", "a long enough passphrase", confirmed=True, extra={"nickname": "em"}
        )
        user, _ = auth.login("m@example.com", "a long enough passphrase")
        assert user.nickname == "em"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 1


def test_alembic_autogenerate_is_clean(tmp_path):
    """Alembic sees the mixin columns: an empty database gets every table; after create_all, no diff."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/alembic.sqlite3")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        script = render_python_code(produce_migrations(context, AppBase.metadata).upgrade_ops)
    for table in ("people", "groups", "memberships", "logins", "emailed_codes", "app_grants"):
        assert f"op.create_table('{table}'" in script
    assert "normalized_email" in script
    AppBase.metadata.create_all(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert produce_migrations(context, AppBase.metadata).upgrade_ops.is_empty()


def test_refresh_token_user_from_the_apps_session(engine):
    """With the app's session, get_refresh_token returns the user attached to it."""
    from doorward.records import NewUser, RefreshToken

    with sa.orm.Session(engine) as session:
        store = SQLAlchemyStore(engine, MODELS, session=session)
        when = datetime(2030, 1, 1, tzinfo=UTC)
        user = store.create_user(
            NewUser(
                email="s@example.com",
                normalized_email="s@example.com",
                password_hash=None,
                security_stamp="stamp",
                created_at=when,
            )
        )
        token = RefreshToken(
            id="r1",
            family_id="f1",
            user_id=str(user.id),
            secret_hash="h" * 64,
            stamp="stamp",
            created_at=when,
            expires_at=when.replace(year=2031),
            signed_in_at=when,
        )
        store.create_refresh_token(token)
        found = store.get_refresh_token("h" * 64)
        assert found is not None
        assert found[0] == token
        assert found[1] in session
