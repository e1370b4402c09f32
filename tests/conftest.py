"""Servers for the store tests: fresh databases on PostgreSQL and MariaDB, and a MongoDB
wire-protocol server.

Each test session creates its own database (``doorward_<pid>_<random>``) and drops it at
the end, so parallel runs do not collide. A server that is down fails the tests with a
hint (``scripts/services`` starts it); CI always has both.

For MongoDB, SecantusDB (a MongoDB-compatible server on WiredTiger) runs in-process on
port 0 with a temporary storage path, driven through the real pymongo driver. Set
``DOORWARD_TEST_MONGO_URL`` to run the same suites against a real ``mongod`` or replica set.
"""

from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa
from pymongo import MongoClient

PG_ADMIN = os.environ.get(
    "DOORWARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MY_ADMIN = os.environ.get("DOORWARD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _fresh_database(admin_url: str, kind: str):
    name = f"doorward_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"{kind} is not reachable at {admin_url} ({exc.orig!r}); run scripts/services")
    return admin, name


@pytest.fixture(scope="session")
def postgres_database():
    admin, name = _fresh_database(PG_ADMIN, "PostgreSQL")
    base = sa.engine.make_url(PG_ADMIN)
    yield base.set(database=name)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def mariadb_database():
    admin, name = _fresh_database(MY_ADMIN, "MariaDB")
    base = sa.engine.make_url(MY_ADMIN)
    yield base.set(database=name)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory):
    url = os.environ.get("DOORWARD_TEST_MONGO_URL")
    if url:
        yield url
        return
    from secantus import SecantusDBServer

    server = SecantusDBServer(
        host="127.0.0.1", port=0, storage_path=str(tmp_path_factory.mktemp("secantus"))
    )
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sync_client(mongo_url):
    client = MongoClient(mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)
    yield client
    client.close()
