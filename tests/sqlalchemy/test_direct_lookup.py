"""The per-request lookup through the DB-API cursor (``_direct.DirectSelect``): the same
records as through SQLAlchemy, every engine setting honoured, and driver faults that
become ``StoreUnavailable`` without leaving a broken connection in the pool (FT-01)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from doorward import Auth, Role, Settings
from doorward._sync.mailers import Outbox
from doorward.exceptions import StoreUnavailable
from doorward.records import Authenticator
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base
from tests.sqlalchemy.test_login_writes import PlainHasher

PASSWORD = "correct horse battery staple"


def signed_in(engine: sa.Engine) -> tuple[SQLAlchemyStore, Auth, str]:
    """A store, its Auth, and the secret hash of a session of a user with two roles."""
    store = SQLAlchemyStore(engine, default_models())
    auth = Auth(
        store=store,
        settings=Settings(secret_keys=["k" * 32], base_url="https://example.com"),
        mailer=Outbox(),
        hasher=PlainHasher(),
    )
    user = auth.create_user("direct@example.com", PASSWORD, confirmed=True)
    auth.save_role(Role(name="member", permissions=frozenset({"posts:read"})))
    auth.save_role(Role(name="editor", permissions=frozenset({"posts:edit", "posts:read"})))
    auth.add_role(user, "member")
    auth.add_role(user, "editor")
    _, issued = auth.login("direct@example.com", PASSWORD)
    secret_hash = auth.ctx.secrets.secret_hash("session", issued.token)
    assert secret_hash is not None
    return store, auth, secret_hash


def through_sqlalchemy(engine: sa.Engine):
    """A listener on statement execution: the store must then go through SQLAlchemy."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_rest):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: sa.event.remove(engine, "before_cursor_execute", count)


def user_values(user) -> dict:
    return {key: getattr(user, key) for key in (p.key for p in sa.inspect(type(user)).column_attrs)}


def assert_same_lookups(direct, plain, direct_roles, plain_roles):
    """The direct and the SQLAlchemy lookups (``signed_in``'s session, with and without its
    roles) found the same credential, user, roles and permissions."""
    assert direct is not None
    assert plain is not None
    assert direct[0] == plain[0]
    assert user_values(direct[1]) == user_values(plain[1])
    assert direct_roles is not None
    assert plain_roles is not None
    assert direct_roles[0] == plain_roles[0]
    assert direct_roles[2] == plain_roles[2] == frozenset({"member", "editor"})
    assert direct_roles[3] == plain_roles[3] == frozenset({"posts:read", "posts:edit"})


def test_the_direct_lookup_gives_what_sqlalchemy_gives(engine):
    store, _, secret_hash = signed_in(engine)
    assert store._direct_lookup is not None
    assert store._direct_lookup.usable()
    direct = store.get_credential("session", secret_hash)
    direct_roles = store.get_credential_with_roles("session", secret_hash)
    seen, stop = through_sqlalchemy(engine)
    try:
        plain = store.get_credential("session", secret_hash)
        plain_roles = store.get_credential_with_roles("session", secret_hash)
    finally:
        stop()
    assert len(seen) == 2  # the listener saw both: the direct path stood aside
    assert_same_lookups(direct, plain, direct_roles, plain_roles)
    credential, user = direct
    assert credential.created_at.tzinfo is UTC
    assert user.current_login_at is not None
    assert user.current_login_at.tzinfo is UTC
    assert user.active is True
    assert user.confirmed_at is not None
    assert not sa.inspect(user).transient  # a detached instance, as the ORM path gives
    assert store.get_credential("session", "0" * 64) is None
    assert store.get_credential_with_roles("session", "0" * 64) is None


def test_engine_settings_send_the_lookup_through_sqlalchemy(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/settings.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    direct = store._direct_lookup
    assert direct is not None
    assert direct.usable()
    seen, stop = through_sqlalchemy(engine)
    assert not direct.usable()
    store.get_credential("session", "0" * 64)
    assert len(seen) == 1
    stop()
    assert direct.usable()

    def on_error(_context):
        return None

    sa.event.listen(engine, "handle_error", on_error)
    assert not direct.usable()
    sa.event.remove(engine, "handle_error", on_error)
    assert direct.usable()
    options = SQLAlchemyStore(
        engine.execution_options(schema_translate_map={None: "main"}), default_models()
    )
    assert options._direct_lookup is not None
    assert not options._direct_lookup.usable()
    echoing = sqlite_engine(f"sqlite:///{tmp_path}/settings.sqlite3", echo=True)
    assert not SQLAlchemyStore(echoing, default_models())._direct_lookup.usable()


def test_ft01_direct_lookup_missing_tables_are_store_unavailable(tmp_path):
    store = SQLAlchemyStore(sqlite_engine(f"sqlite:///{tmp_path}/empty.sqlite3"), default_models())
    assert store._direct_lookup is not None
    with pytest.raises(StoreUnavailable) as info:
        store.get_credential("session", "0" * 64)
    assert "SELECT" not in str(info.value)
    with pytest.raises(StoreUnavailable):
        store.get_credential_with_roles("session", "0" * 64)


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_ft01_killed_connections_are_store_unavailable_once_then_replaced(request, server):
    """The server ends every pooled connection (a restart): the lookup on one of them is a
    store fault, and none is handed out again (the next lookup works on a new one)."""
    url = request.getfixturevalue(f"{server}_database")
    engine = sa.create_engine(url, pool_size=2, max_overflow=0)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    store, _, secret_hash = signed_in(engine)
    pooled = [engine.raw_connection(), engine.raw_connection()]
    ids = []
    for connection in pooled:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT CONNECTION_ID()" if server == "mariadb" else "SELECT pg_backend_pid()"
        )
        ids.append(int(cursor.fetchone()[0]))
        cursor.close()
    for connection in pooled:
        connection.close()
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.connect() as other:
        for found in ids:
            kill = (
                f"KILL {found}" if server == "mariadb" else f"SELECT pg_terminate_backend({found})"
            )
            other.execute(sa.text(kill))
        other.commit()
    admin.dispose()
    with pytest.raises(StoreUnavailable):
        store.get_credential("session", secret_hash)
    assert engine.pool.checkedout() == 0
    found = store.get_credential_with_roles("session", secret_hash)
    assert found is not None
    assert found[2] == frozenset({"member", "editor"})
    engine.dispose()


def test_the_lookup_reads_a_change_made_through_sqlalchemy(engine):
    """No caching: a session ended through the ORM is gone for the very next lookup."""
    store, _auth, secret_hash = signed_in(engine)
    found = store.get_credential("session", secret_hash)
    assert found is not None
    credential, _user = found
    store.touch_credential(credential.id, last_used_at=datetime.now(UTC) + timedelta(minutes=5))
    again = store.get_credential("session", secret_hash)
    assert again is not None
    assert again[0].last_used_at != credential.last_used_at
    assert store.delete_credential(credential.id)
    assert store.get_credential("session", secret_hash) is None
    assert store.get_credential_with_roles("session", secret_hash) is None


def test_the_login_lookup_gives_what_sqlalchemy_gives(engine):
    """The login's user-with-second-factors lookup: the same user and factors both ways,
    and inside a store transaction it reads through the transaction's connection."""
    store, _, _ = signed_in(engine)
    user = store.get_user_by_email("direct@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    for number, kind in enumerate(("totp", "recovery", "recovery")):
        store.create_authenticator(
            Authenticator(
                id=f"factor-{number}",
                user_id=str(user.id),
                kind=kind,
                secret=f"secret-{number}",
                created_at=now + timedelta(seconds=number),
                confirmed_at=now if kind == "totp" else None,
            )
        )
    assert store._direct_user_with_factors.usable()
    direct = store.get_user_by_email_with_authenticators("direct@example.com")
    seen, stop = through_sqlalchemy(engine)
    try:
        plain = store.get_user_by_email_with_authenticators("direct@example.com")
    finally:
        stop()
    assert len(seen) == 1
    assert direct is not None
    assert plain is not None
    assert user_values(direct[0]) == user_values(plain[0])
    assert direct[1] == plain[1]
    assert [factor.id for factor in direct[1]] == ["factor-0", "factor-1", "factor-2"]
    assert direct[1][0].confirmed_at == now
    assert store.get_user_by_email_with_authenticators("nobody@example.com") is None
    # in a transaction the lookup reads its uncommitted writes (its own connection)
    with store.transaction():
        store.create_authenticator(
            Authenticator(
                id="factor-3",
                user_id=str(user.id),
                kind="recovery",
                secret="secret-3",
                created_at=now + timedelta(seconds=9),
            )
        )
        inside = store.get_user_by_email_with_authenticators("direct@example.com")
        assert inside is not None
        assert [factor.id for factor in inside[1]][-1] == "factor-3"


def test_on_postgresql_the_lookup_runs_outside_a_transaction_and_restores_the_mode(
    postgres_database,
):
    """As the store's other reads (``isolation_level="AUTOCOMMIT"``): no transaction is
    open when the connection goes back to the pool (so no ROLLBACK round trip), and it goes
    back in its usual mode."""
    from psycopg.pq import TransactionStatus

    engine = sa.create_engine(postgres_database, pool_size=1, max_overflow=0)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    store, _, secret_hash = signed_in(engine)
    returned = []

    def on_reset(dbapi_connection, _record, _state):
        returned.append((dbapi_connection.autocommit, dbapi_connection.info.transaction_status))

    sa.event.listen(engine.pool, "reset", on_reset)
    assert store._direct_lookup.usable()
    assert store.get_credential("session", secret_hash) is not None
    assert store.get_credential_with_roles("session", secret_hash) is not None
    assert returned == [(False, TransactionStatus.IDLE)] * 2
    engine.dispose()


def test_on_postgresql_an_engine_in_autocommit_stays_in_autocommit(postgres_database):
    """An application's engine made with ``isolation_level="AUTOCOMMIT"``: its pooled
    connection goes back to the pool in that mode, not in the one the lookup found usual."""
    engine = sa.create_engine(
        postgres_database, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT"
    )
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    store, _, secret_hash = signed_in(engine)
    assert store.get_credential("session", secret_hash) is not None
    connection = engine.raw_connection()
    try:
        assert connection.dbapi_connection.autocommit is True
    finally:
        connection.close()
    engine.dispose()
