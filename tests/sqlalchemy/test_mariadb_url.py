"""A ``mariadb+pymysql://`` URL gets what a ``mysql+pymysql://`` one gets: SQLAlchemy names
that dialect "mariadb", and the byte-for-byte email columns (LE-06), the outbox's
``SKIP LOCKED`` and the direct lookup must not depend on the spelling of the URL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from doorward import Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import EmailTaken
from doorward_sqlalchemy import SQLAlchemyStore, default_models
from doorward_sqlalchemy.models import Base
from tests.sqlalchemy.test_login_writes import PASSWORD, PlainHasher


@pytest.fixture
def engine(mariadb_database):
    made = sa.create_engine(mariadb_database.set(drivername="mariadb+pymysql"))
    assert made.dialect.name == "mariadb"
    Base.metadata.drop_all(made)
    Base.metadata.create_all(made)
    yield made
    made.dispose()


def site(engine) -> tuple[SQLAlchemyStore, Auth]:
    store = SQLAlchemyStore(engine, default_models())
    settings = Settings(secret_keys=["k" * 32], base_url="https://example.com")
    return store, Auth(store=store, settings=settings, mailer=Outbox(), hasher=PlainHasher())


def test_le06_addresses_differing_by_an_accent_are_distinct_on_a_mariadb_url(engine):
    with engine.connect() as connection:
        collation = connection.execute(
            sa.text(
                "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE "
                "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' "
                "AND COLUMN_NAME = 'normalized_email'"
            )
        ).scalar_one()
    assert collation == "utf8mb4_nopad_bin"
    store, auth = site(engine)
    auth.create_user("jose@example.com", PASSWORD)
    auth.create_user("josé@example.com", PASSWORD)
    with pytest.raises(EmailTaken):
        auth.create_user("jose@example.com", PASSWORD)
    assert store.get_user_by_email("josé@example.com").email == "josé@example.com"
    assert store.get_user_by_email("jose@example.com").email == "jose@example.com"


def test_the_direct_lookup_and_skip_locked_apply(engine):
    store, _ = site(engine)
    assert store._direct_lookup is not None
    from doorward_sqlalchemy._async.outbox import _SKIP_LOCKED

    assert engine.dialect.name in _SKIP_LOCKED
