"""The outbox contract (DI-02) on every SQLAlchemy backend: SQLite (pysqlite, aiosqlite),
PostgreSQL (psycopg) and MariaDB (PyMySQL, aiomysql); the race tests run on separate
connections of the pool."""

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from doorward.testing import AsyncMailOutboxContract, MailOutboxContract
from doorward_sqlalchemy import (
    AsyncSQLAlchemyStore,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base, Models

ASYNC_DRIVERS = {"postgresql+psycopg": "postgresql+psycopg", "mysql+pymysql": "mysql+aiomysql"}


@pytest.fixture(params=["postgres", "mariadb"])
def server_url(request):
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return request.getfixturevalue("mariadb_database")


@pytest.fixture
def sync_sqlite(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/outbox.sqlite3")
    Base.metadata.create_all(engine)
    yield SQLAlchemyStore(engine, default_models())
    engine.dispose()


@pytest_asyncio.fixture
async def async_sqlite(tmp_path):
    engine = async_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path}/outbox.sqlite3")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield AsyncSQLAlchemyStore(engine, default_models())
    await engine.dispose()


@pytest.fixture
def sync_server(server_url):
    engine = sa.create_engine(server_url, pool_size=10, max_overflow=10)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield SQLAlchemyStore(engine, default_models())
    engine.dispose()


@pytest_asyncio.fixture
async def async_server(server_url):
    url = server_url.set(drivername=ASYNC_DRIVERS[server_url.drivername])
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    yield AsyncSQLAlchemyStore(engine, default_models())
    await engine.dispose()


class TestSQLiteOutbox(MailOutboxContract):
    """SQLAlchemyStore's outbox on a SQLite file (conditional updates per row)."""

    @pytest.fixture
    def store(self, sync_sqlite):
        return sync_sqlite


class TestAsyncSQLiteOutbox(AsyncMailOutboxContract):
    """AsyncSQLAlchemyStore's outbox on aiosqlite."""

    @pytest.fixture
    def store(self, async_sqlite):
        return async_sqlite


@pytest.mark.postgres
@pytest.mark.mariadb
class TestServerOutbox(MailOutboxContract):
    """SQLAlchemyStore's outbox on PostgreSQL and MariaDB (FOR UPDATE SKIP LOCKED)."""

    @pytest.fixture
    def store(self, sync_server):
        return sync_server


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncServerOutbox(AsyncMailOutboxContract):
    """AsyncSQLAlchemyStore's outbox on PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, async_server):
        return async_server


def test_without_the_outbox_model_the_store_lacks_the_capability(tmp_path):
    """Models without ``outbox``: the capability's methods are absent, named by the check."""
    from doorward import MailOutbox
    from doorward.capabilities import missing_methods

    full = default_models()
    models = Models(full.user, full.role, full.user_role, full.credential)
    engine = sqlite_engine(f"sqlite:///{tmp_path}/bare.sqlite3")
    store = SQLAlchemyStore(engine, models)
    assert "claim_mail" in missing_methods(store, MailOutbox)
    assert missing_methods(SQLAlchemyStore(engine, full), MailOutbox) == []
    engine.dispose()


def test_alembic_autogenerate_is_clean_for_the_outbox(tmp_path):
    """Alembic sees OutboxMixin on an app's own base: the table and its index come in one
    migration; after it, no diff."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.migration import MigrationContext
    from sqlalchemy.orm import DeclarativeBase

    from doorward_sqlalchemy import OutboxMixin

    class AppBase(DeclarativeBase):
        pass

    class Letters(OutboxMixin, AppBase):
        __tablename__ = "letters"

    engine = sa.create_engine(f"sqlite:///{tmp_path}/alembic.sqlite3")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        script = render_python_code(produce_migrations(context, AppBase.metadata).upgrade_ops)
    assert "op.create_table('letters'" in script
    assert "ix_letters_due" in script
    AppBase.metadata.create_all(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert produce_migrations(context, AppBase.metadata).upgrade_ops.is_empty()
    engine.dispose()
