"""The store and flows contracts on PostgreSQL (psycopg 3) and MariaDB (PyMySQL, aiomysql).

Each worker of the race tests takes its own connection from the pool, so the races run
across separate database connections, not threads sharing one.
"""

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from doorward.testing import (
    AsyncAuthenticatorsContract,
    AsyncFlowsContract,
    AsyncRateLimiterContract,
    AsyncRefreshTokensContract,
    AsyncSignInCodesContract,
    AsyncSocialIdentitiesContract,
    AsyncStoreContract,
    AuthenticatorsContract,
    FlowsContract,
    RateLimiterContract,
    RefreshTokensContract,
    SignInCodesContract,
    SocialIdentitiesContract,
    StoreContract,
)
from doorward_sqlalchemy import (
    AsyncSQLAlchemyRateLimiter,
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    default_models,
)
from doorward_sqlalchemy.models import Base

ASYNC_DRIVERS = {"postgresql+psycopg": "postgresql+psycopg", "mysql+pymysql": "mysql+aiomysql"}


def _sync_store(url):
    engine = sa.create_engine(url, pool_size=10, max_overflow=10)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine, SQLAlchemyStore(engine, default_models())


async def _async_store(url):
    async_url = url.set(drivername=ASYNC_DRIVERS[url.drivername])
    engine = create_async_engine(async_url, pool_size=10, max_overflow=10)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    return engine, AsyncSQLAlchemyStore(engine, default_models())


@pytest.fixture(params=["postgres", "mariadb"])
def server_url(request):
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return request.getfixturevalue("mariadb_database")


@pytest.fixture
def server_store(server_url):
    engine, store = _sync_store(server_url)
    yield store
    engine.dispose()


@pytest_asyncio.fixture
async def async_server_store(server_url):
    engine, store = await _async_store(server_url)
    yield store
    await engine.dispose()


@pytest.mark.postgres
@pytest.mark.mariadb
class TestServerStore(StoreContract):
    """SQLAlchemyStore keeps the store contract on PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, server_store):
        return server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncServerStore(AsyncStoreContract):
    """AsyncSQLAlchemyStore keeps the store contract on PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, async_server_store):
        return async_server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestServerSocialIdentities(SocialIdentitiesContract):
    """SQLAlchemyStore keeps provider links on PostgreSQL and MariaDB (races included)."""

    @pytest.fixture
    def store(self, server_store):
        return server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncServerSocialIdentities(AsyncSocialIdentitiesContract):
    """AsyncSQLAlchemyStore keeps provider links on PostgreSQL and MariaDB (races included)."""

    @pytest.fixture
    def store(self, async_server_store):
        return async_server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestServerFlows(FlowsContract):
    """Every flow on SQLAlchemyStore over PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, server_store):
        return server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncServerFlows(AsyncFlowsContract):
    """Every flow on AsyncSQLAlchemyStore over PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, async_server_store):
        return async_server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestServerRateLimiter(RateLimiterContract):
    """The shared limiter on PostgreSQL and MariaDB: the race runs on separate connections."""

    @pytest.fixture
    def limiter(self, server_store):
        return SQLAlchemyRateLimiter(server_store.engine)


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncServerRateLimiter(AsyncRateLimiterContract):
    """The async shared limiter on PostgreSQL (psycopg) and MariaDB (aiomysql)."""

    @pytest.fixture
    def limiter(self, async_server_store):
        return AsyncSQLAlchemyRateLimiter(async_server_store.engine)


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAuthenticatorsOnServers(AuthenticatorsContract):
    """SQLAlchemyStore has the authenticators capability on PostgreSQL and MariaDB (races across connections)."""

    @pytest.fixture
    def store(self, server_store):
        return server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncAuthenticatorsOnServers(AsyncAuthenticatorsContract):
    """AsyncSQLAlchemyStore has the authenticators capability on PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, async_server_store):
        return async_server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestSignInOnServers(SignInCodesContract, RefreshTokensContract):
    """SQLAlchemyStore has the sign-in codes and refresh tokens capabilities on PostgreSQL
    and MariaDB (races across connections)."""

    @pytest.fixture
    def store(self, server_store):
        return server_store


@pytest.mark.postgres
@pytest.mark.mariadb
class TestAsyncSignInOnServers(AsyncSignInCodesContract, AsyncRefreshTokensContract):
    """AsyncSQLAlchemyStore has the sign-in codes and refresh tokens capabilities on
    PostgreSQL and MariaDB."""

    @pytest.fixture
    def store(self, async_server_store):
        return async_server_store


@pytest.mark.postgres
@pytest.mark.mariadb
def test_a_user_deleted_meanwhile_is_not_found(server_store, monkeypatch):
    """A code or refresh token whose user goes between the check and the INSERT: the foreign
    key refuses it and the store says NotFound (not WriteRefused)."""
    from tests.sqlalchemy.test_sqlite import assert_foreign_key_is_not_found

    assert_foreign_key_is_not_found(server_store, monkeypatch)
