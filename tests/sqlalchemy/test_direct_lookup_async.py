"""The per-request lookups of the async store through the driver's own coroutines
(``_direct.AsyncDirectSelect``, psycopg 3 and aiomysql): the same records as through
SQLAlchemy, every engine setting honoured, the PostgreSQL connection back in its mode, and
killed connections that become ``StoreUnavailable`` once, then are replaced (FT-01)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from doorward import AsyncAuth, Role, Settings
from doorward._async.mailers import AsyncOutbox
from doorward.exceptions import StoreUnavailable
from doorward_sqlalchemy import AsyncSQLAlchemyStore, default_models
from doorward_sqlalchemy.models import Base
from tests.sqlalchemy.test_direct_lookup import (
    assert_same_lookups,
    through_sqlalchemy,
    user_values,
)

PASSWORD = "correct horse battery staple"
ASYNC_DRIVERS = {"postgresql+psycopg": "postgresql+psycopg", "mysql+pymysql": "mysql+aiomysql"}


class PlainHasher:
    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, stored: str | None, password: str) -> bool:
        return stored == "plain$" + password

    def needs_rehash(self, stored: str) -> bool:
        return False


def fresh_async_url(found):
    """The async URL of the server at ``found``, whose tables are made anew."""
    engine = sa.create_engine(found, poolclass=sa.pool.NullPool)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    return found.set(drivername=ASYNC_DRIVERS[found.drivername])


@pytest.fixture(params=["postgres", "mariadb"])
def url(request):
    return fresh_async_url(request.getfixturevalue(f"{request.param}_database"))


async def signed_in(engine) -> tuple[AsyncSQLAlchemyStore, str]:
    """A store and the secret hash of a session of a user with two roles."""
    store = AsyncSQLAlchemyStore(engine, default_models())
    auth = AsyncAuth(
        store=store,
        settings=Settings(secret_keys=["k" * 32], base_url="https://example.com"),
        mailer=AsyncOutbox(),
        hasher=PlainHasher(),
    )
    user = await auth.create_user("direct@example.com", PASSWORD, confirmed=True)
    await auth.save_role(Role(name="member", permissions=frozenset({"posts:read"})))
    await auth.save_role(Role(name="editor", permissions=frozenset({"posts:edit", "posts:read"})))
    await auth.add_role(user, "member")
    await auth.add_role(user, "editor")
    _, issued = await auth.login("direct@example.com", PASSWORD)
    secret_hash = auth.ctx.secrets.secret_hash("session", issued.token)
    assert secret_hash is not None
    return store, secret_hash


def test_the_async_direct_lookups_give_what_sqlalchemy_gives(url):
    async def scenario() -> None:
        engine = create_async_engine(url)
        store, secret_hash = await signed_in(engine)
        assert store._direct_lookup is not None
        assert store._direct_lookup.usable()
        direct = await store.get_credential("session", secret_hash)
        direct_roles = await store.get_credential_with_roles("session", secret_hash)
        direct_login = await store.get_user_by_email_with_authenticators("direct@example.com")
        seen, stop = through_sqlalchemy(engine.sync_engine)
        assert not store._direct_lookup.usable()
        plain = await store.get_credential("session", secret_hash)
        plain_roles = await store.get_credential_with_roles("session", secret_hash)
        plain_login = await store.get_user_by_email_with_authenticators("direct@example.com")
        stop()
        assert len(seen) == 3  # these went through SQLAlchemy
        assert_same_lookups(direct, plain, direct_roles, plain_roles)
        assert direct_login is not None
        assert plain_login is not None
        assert user_values(direct_login[0]) == user_values(plain_login[0])
        assert direct[1].current_login_at.tzinfo is not None
        assert not sa.inspect(direct[1]).transient
        assert await store.get_credential("session", "0" * 64) is None
        assert await store.get_credential_with_roles("session", "0" * 64) is None
        await engine.dispose()

    asyncio.run(scenario())


def test_async_engine_options_send_the_lookup_through_sqlalchemy(url):
    async def scenario() -> None:
        engine = create_async_engine(url)
        options = AsyncSQLAlchemyStore(
            engine.execution_options(logging_token="app"), default_models()
        )
        assert options._direct_lookup is not None
        assert not options._direct_lookup.usable()
        echoing = create_async_engine(url, echo=True)
        assert not AsyncSQLAlchemyStore(echoing, default_models())._direct_lookup.usable()
        await echoing.dispose()
        await engine.dispose()

    asyncio.run(scenario())


def test_on_postgresql_the_async_lookup_leaves_no_transaction_and_restores_the_mode(
    postgres_database,
):
    from psycopg.pq import TransactionStatus

    url = fresh_async_url(postgres_database)

    async def scenario() -> None:
        engine = create_async_engine(url, pool_size=1, max_overflow=0)
        store, secret_hash = await signed_in(engine)
        returned = []

        def on_reset(dbapi_connection, _record, _state):
            driver = dbapi_connection.driver_connection
            returned.append((driver.autocommit, driver.info.transaction_status))

        sa.event.listen(engine.sync_engine.pool, "reset", on_reset)
        assert store._direct_lookup.usable()
        assert await store.get_credential("session", secret_hash) is not None
        assert await store.get_credential_with_roles("session", secret_hash) is not None
        assert returned == [(False, TransactionStatus.IDLE)] * 2
        await engine.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_ft01_async_killed_connections_are_store_unavailable_once_then_replaced(request, server):
    found = request.getfixturevalue(f"{server}_database")
    admin = sa.create_engine(found, poolclass=sa.pool.NullPool)
    Base.metadata.drop_all(admin)
    Base.metadata.create_all(admin)
    url = found.set(drivername=ASYNC_DRIVERS[found.drivername])
    ask = "SELECT CONNECTION_ID()" if server == "mariadb" else "SELECT pg_backend_pid()"

    async def scenario() -> None:
        engine = create_async_engine(url, pool_size=2, max_overflow=0)
        store, secret_hash = await signed_in(engine)
        ids = []
        async with engine.connect() as one, engine.connect() as two:
            for connection in (one, two):
                ids.append(int((await connection.execute(sa.text(ask))).scalar_one()))
        with admin.connect() as other:
            for pid in ids:
                kill = (
                    f"KILL {pid}" if server == "mariadb" else f"SELECT pg_terminate_backend({pid})"
                )
                other.execute(sa.text(kill))
            other.commit()
        with pytest.raises(StoreUnavailable):
            await store.get_credential("session", secret_hash)
        assert engine.sync_engine.pool.checkedout() == 0
        again = await store.get_credential_with_roles("session", secret_hash)
        assert again is not None
        assert again[2] == frozenset({"member", "editor"})
        await engine.dispose()

    asyncio.run(scenario())
    admin.dispose()


def test_a_lookup_cancelled_mid_statement_leaves_no_busy_connection_in_the_pool(url):
    """The request is cancelled (the client went away) while its SELECT runs: that
    connection's state is unknown, so it is not handed out again; the next lookup gets a
    sound one."""
    # a SELECT that takes its time, with the lookup's two parameters in the driver's style
    sleep = (
        "SELECT SLEEP(3) FROM DUAL WHERE %s IS NOT NULL AND %s IS NOT NULL"
        if url.drivername.startswith("mysql")
        else "SELECT pg_sleep(3) WHERE %(kind)s::text IS NOT NULL AND %(hash)s::text IS NOT NULL"
    )

    async def scenario() -> None:
        engine = create_async_engine(url, pool_size=1, max_overflow=0)
        store, secret_hash = await signed_in(engine)
        statement = store._direct_lookup._statement
        usual = statement.sql
        statement.sql = sleep
        slow = asyncio.create_task(store.get_credential("session", secret_hash))
        await asyncio.sleep(0.3)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        statement.sql = usual
        assert engine.sync_engine.pool.checkedout() == 0
        found = await store.get_credential_with_roles("session", secret_hash)
        assert found is not None
        assert found[2] == frozenset({"member", "editor"})
        assert await store.get_credential("session", secret_hash) is not None
        await engine.dispose()

    asyncio.run(scenario())
