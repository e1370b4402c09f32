"""Driver errors become doorward's typed errors and leak no driver text (FT-01)."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from doorward.exceptions import StoreUnavailable
from doorward.settings import RateLimit
from doorward_sqlalchemy import SQLAlchemyRateLimiter, SQLAlchemyStore, default_models


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "mysql+pymysql"])
def test_ft01_unreachable_database_is_store_unavailable(driver, caplog):
    """A database that refuses connections gives StoreUnavailable with the generic message only."""
    engine = sa.create_engine(
        f"{driver}://root@127.0.0.1:{closed_port()}/test", pool_pre_ping=False
    )
    store = SQLAlchemyStore(engine, default_models())
    with pytest.raises(StoreUnavailable) as info:
        store.get_user_by_email("a@example.com")
    assert "127.0.0.1" not in str(info.value)
    assert "refused" not in str(info.value).lower()
    assert info.value.code == "store_unavailable"


def test_ft01_missing_tables_are_store_unavailable(tmp_path):
    """A schema that was never created is a store fault, not a crash with SQL in it."""
    store = SQLAlchemyStore(
        sa.create_engine(f"sqlite:///{tmp_path}/empty.sqlite3"), default_models()
    )
    with pytest.raises(StoreUnavailable) as info:
        store.get_user("1")
    assert "SELECT" not in str(info.value)


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "mysql+pymysql"])
def test_ft04_shared_limiter_fails_closed_when_the_database_is_down(driver):
    """A limiter that cannot count refuses with StoreUnavailable rather than letting hits through."""
    engine = sa.create_engine(
        f"{driver}://root@127.0.0.1:{closed_port()}/test", pool_pre_ping=False
    )
    limiter = SQLAlchemyRateLimiter(engine)
    with pytest.raises(StoreUnavailable) as info:
        limiter.hit("login:203.0.113.7", RateLimit(5, timedelta(minutes=1)), datetime.now(UTC))
    assert "127.0.0.1" not in str(info.value)
