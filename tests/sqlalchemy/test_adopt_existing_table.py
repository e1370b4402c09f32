"""Adopting an existing ``users`` table with 10,000 rows (issue 12): the plan names the
missing columns, the duplicates by normalised email are reported before the unique index,
the backfill fills every row, and an adopted user then resets a password and logs in — on
SQLite, PostgreSQL and MariaDB; the command-line entry point prints and applies the plan."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from doorward import Argon2Params, Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import EmailTaken
from doorward_sqlalchemy import (
    CredentialMixin,
    Models,
    RoleMixin,
    SQLAlchemyStore,
    UserMixin,
    UserRoleMixin,
    sqlite_engine,
)
from doorward_sqlalchemy.adopt import adopt, plan_sql

ROWS = 10_000


class Base(DeclarativeBase):
    """The app's base."""


class Member(UserMixin, Base):
    """The app's existing table, now with doorward's mixin."""

    __tablename__ = "adopted_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str | None] = mapped_column(sa.String(40), default=None)


class Group(RoleMixin, Base):
    __tablename__ = "adopted_groups"


class MemberGroup(UserRoleMixin, Base):
    __tablename__ = "adopted_member_groups"
    __doorward_user_key__ = "adopted_members.id"
    __doorward_role_key__ = "adopted_groups.id"


class Login(CredentialMixin, Base):
    __tablename__ = "adopted_logins"
    __doorward_user_key__ = "adopted_members.id"


MODELS = Models(Member, Group, MemberGroup, Login)


def legacy_table(engine):
    """The table as the app had it before doorward: id, email, nickname; 10,000 rows, two
    of which collide once normalised, and one whose address cannot be used."""
    metadata = sa.MetaData()
    legacy = sa.Table(
        "adopted_members",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("nickname", sa.String(40)),
    )
    Base.metadata.drop_all(engine)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    rows = [
        {"id": i, "email": f"user{i}@example.com", "nickname": f"n{i}"} for i in range(1, ROWS + 1)
    ]
    rows[1]["email"] = "Ann@Example.com"
    rows[2]["email"] = "ann@example.COM"
    rows[3]["email"] = "not an address"
    with engine.begin() as connection:
        connection.execute(sa.insert(legacy), rows)
        if engine.dialect.name == "postgresql":  # explicit ids leave the sequence behind
            connection.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('adopted_members', 'id'), :n)"),
                {"n": ROWS},
            )
    for table in (Group, MemberGroup, Login):
        table.__table__.create(engine)
    return legacy


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def engine(request, tmp_path):
    if request.param == "sqlite":
        made = sqlite_engine(f"sqlite:///{tmp_path}/adopt.sqlite3")
    else:
        fixture = "postgres_database" if request.param == "postgres" else "mariadb_database"
        made = sa.create_engine(request.getfixturevalue(fixture))
    yield made
    Base.metadata.drop_all(made)
    made.dispose()


def test_adopting_a_table_with_rows(engine):
    """Plan, refuse the index while duplicates exist, then complete; an adopted user logs in."""
    legacy_table(engine)
    planned = adopt(engine, MODELS)
    assert not planned.applied
    assert "normalized_email" in planned.added_columns
    assert "security_stamp" in planned.added_columns
    assert planned.filled_rows == ROWS
    assert any("ADD COLUMN normalized_email" in s for s in plan_sql(engine, MODELS))

    first = adopt(engine, MODELS, apply=True)
    assert first.filled_rows == ROWS
    assert first.duplicates == {"ann@example.com": ("2", "3")}
    assert set(first.unusable) == {"4"}
    assert not first.index_created
    assert not first.complete

    with engine.begin() as connection:
        connection.execute(sa.delete(Member.__table__).where(Member.__table__.c.id == 3))
    second = adopt(engine, MODELS, apply=True)
    assert second.added_columns == ()
    assert second.duplicates == {}
    assert second.index_created
    assert second.complete
    assert adopt(engine, MODELS, apply=True).index_created is False

    with engine.connect() as connection:
        unfilled = connection.scalar(
            sa.select(sa.func.count())
            .select_from(Member.__table__)
            .where(
                Member.__table__.c.security_stamp.is_(None) | Member.__table__.c.active.is_(None)
            )
        )
    assert unfilled == 0

    outbox = Outbox()
    auth = Auth(
        Settings(
            secret_keys="adopt-tests-secret-key-0123456789abcdef",
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
        ),
        SQLAlchemyStore(engine, MODELS),
        mailer=outbox,
    )
    with pytest.raises(EmailTaken):
        auth.create_user("USER42@example.com", "a long enough passphrase here")
    auth.forgot_password("user42@example.com")
    token = outbox.messages[-1].text.split("/auth/reset/", 1)[1].split()[0]
    auth.reset_password(token, "the new long passphrase of user 42")
    user, _ = auth.login("user42@example.com", "the new long passphrase of user 42")
    assert (user.nickname, user.email) == ("n42", "user42@example.com")


def test_command_line_prints_then_applies(tmp_path):
    """``python -m doorward_sqlalchemy adopt`` prints the SQL and the duplicates (exit 1)."""
    engine = sqlite_engine(f"sqlite:///{tmp_path}/cli.sqlite3")
    legacy_table(engine)
    engine.dispose()
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    command = [
        sys.executable,
        "-m",
        "doorward_sqlalchemy",
        "adopt",
        url,
        "tests.sqlalchemy.test_adopt_existing_table:MODELS",
    ]
    printed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert printed.returncode == 0, printed.stderr
    assert "ALTER TABLE adopted_members ADD COLUMN normalized_email" in printed.stdout
    applied = subprocess.run(
        [*command, "--apply"], capture_output=True, text=True, check=False, timeout=120
    )
    assert applied.returncode == 1
    assert "ann@example.com: rows 2, 3 share this address" in applied.stderr
