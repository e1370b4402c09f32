"""DI-02 on every SQLAlchemy backend: with the outbox mailer on the same store, a flow's
change and the mail about it commit in one transaction (``Context.change_and_mail`` over
``SQLAlchemyStore.transaction``), or neither does. Real databases: SQLite (pysqlite,
aiosqlite), PostgreSQL (psycopg) and MariaDB (PyMySQL, aiomysql); the app's own session
(``session=``) too."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from doorward import Argon2Params, AsyncAuth, Auth, Settings
from doorward.exceptions import StoreUnavailable
from doorward.mail import Mail
from doorward.outbox import AsyncOutboxMailer, OutboxMailer
from doorward_flask import Doorward
from doorward_sqlalchemy import (
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base

PASSWORD = "a long enough passphrase"
ASYNC_DRIVERS = {"postgresql+psycopg": "postgresql+psycopg", "mysql+pymysql": "mysql+aiomysql"}
JSON = {"Accept": "application/json"}


class Nowhere:
    """A delivery that is never reached: these tests only look at what was stored."""

    def send(self, mail: Mail) -> None:
        raise AssertionError("no worker runs in these tests")


def settings(**overrides: object) -> Settings:
    return Settings(
        secret_keys="outbox-transaction-secret-key-0123456789",
        base_url="https://app.example.test",
        argon2=Argon2Params.insecure_for_tests(),
        **overrides,
    )


class FailAfterInsert(SQLAlchemyStore):
    """A store whose ``enqueue_mail`` fails once its insert ran (on the bound connection)."""

    failing = False

    def enqueue_mail(self, message):
        super().enqueue_mail(message)
        if self.failing:
            raise StoreUnavailable


class RaiseAfterEnqueue(OutboxMailer):
    """An outbox mailer whose ``send`` raises once the mail is stored: the flow fails
    after its mail was enqueued."""

    def send(self, mail: Mail) -> None:
        super().send(mail)
        raise StoreUnavailable


BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        made = sqlite_engine(f"sqlite:///{tmp_path}/tx.sqlite3")
    else:
        fixture = "postgres_database" if request.param == "postgres" else "mariadb_database"
        made = sa.create_engine(request.getfixturevalue(fixture), pool_size=5)
        Base.metadata.drop_all(made)
    Base.metadata.create_all(made)
    yield made
    made.dispose()


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def counting_commits(engine) -> list[object]:
    """A list that gets an item at each commit on ``engine`` (savepoints are not commits)."""
    commits: list[object] = []
    sa.event.listen(engine, "commit", commits.append)
    return commits


def outbox_auth(store, mailer_class=OutboxMailer) -> Auth:
    mailer = mailer_class(store, Nowhere(), background=False)
    return Auth(settings(), store, mailer=mailer)


def test_di02_a_registration_whose_mail_is_not_stored_leaves_no_account(engine):
    """The outbox insert ran and then failed: the registration raises StoreUnavailable and
    leaves neither the user row nor the mail row (without the seam the user stays)."""
    store = FailAfterInsert(engine, default_models())
    auth = outbox_auth(store)
    store.failing = True
    with pytest.raises(StoreUnavailable):
        auth.register("ann@example.com", PASSWORD)
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (0, 0)
    store.failing = False
    assert auth.register("ann@example.com", PASSWORD) is not None
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (1, 1)


def test_di02_a_registration_without_the_outbox_table_leaves_no_account(engine):
    """The database refuses the insert (the table is gone): no user row either, and the
    error is StoreUnavailable (a 503), never a success."""
    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE mail_outbox"))
    with pytest.raises(StoreUnavailable):
        auth.register("ann@example.com", PASSWORD)
    assert count(engine, "users") == 0


def test_di02_a_flow_that_fails_after_enqueueing_leaves_no_mail(engine):
    """A change whose flow raises after its mail was stored (an email change request)
    rolls back both: no mail row and no pending address."""
    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store, RaiseAfterEnqueue)
    user = auth.create_user("ann@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("ann@example.com", PASSWORD)
    identity = auth.authenticate(session_token=issued.token)
    with pytest.raises(StoreUnavailable):
        auth.request_email_change(identity, PASSWORD, "new@example.com")
    assert count(engine, "mail_outbox") == 0
    assert store.get_user(str(user.id)).pending_email is None


def test_di02_an_exception_in_the_block_after_the_mail_rolls_back_both(engine):
    """Any exception after the mail inside ``change_and_mail`` leaves no change and no mail."""
    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store)
    user = auth.create_user("ann@example.com", PASSWORD, confirmed=True)
    ctx = auth.ctx

    def change_mail_then_fail() -> None:
        with ctx.change_and_mail():
            store.update_user(user, {"pending_email": "new@example.com"})
            ctx.mail("change_email", "new@example.com", link="https://app.example.test/x")
            raise RuntimeError("after the mail")

    with pytest.raises(RuntimeError, match="after the mail"):
        change_mail_then_fail()
    assert count(engine, "mail_outbox") == 0
    assert store.get_user(str(user.id)).pending_email is None


def test_di02_registration_writes_both_rows_in_one_commit(engine):
    """The happy path: the user row and the confirmation mail, in one commit."""
    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store)
    commits = counting_commits(engine)
    user = auth.register("ann@example.com", PASSWORD)
    assert len(commits) == 1
    (message,) = auth.ctx.mailer.list_mail()
    assert (message.kind, message.to) == ("confirm", "ann@example.com")
    assert store.get_user(str(user.id)) is not None


def test_di02_a_taken_address_in_the_transaction_mails_the_owner(engine):
    """The unique index refuses the second account inside the transaction (a savepoint
    rolls back only it, PostgreSQL included): the owner's notice is stored."""
    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store)
    auth.register("ann@example.com", PASSWORD)
    assert auth.register("ANN@example.com", PASSWORD) is None
    kinds = sorted(m.kind for m in auth.ctx.mailer.list_mail())
    assert kinds == ["confirm", "existing_account"]
    assert count(engine, "users") == 1


def test_di02_password_reset_and_its_notice_commit_together(engine):
    """Reset: the new hash, the stamp, the credentials' clean-up and the notice in one
    transaction; with the notice refused, the old password still works and the token too."""
    store = FailAfterInsert(engine, default_models())
    auth = outbox_auth(store)
    auth.create_user("ann@example.com", PASSWORD, confirmed=True)
    auth.forgot_password("ann@example.com")
    (reset,) = auth.ctx.mailer.list_mail()
    token = reset.text.split("/reset/")[1].split()[0]
    store.failing = True
    with pytest.raises(StoreUnavailable):
        auth.reset_password(token, "another long passphrase")
    auth.login("ann@example.com", PASSWORD)
    store.failing = False
    auth.reset_password(token, "another long passphrase")
    auth.login("ann@example.com", "another long passphrase")
    assert sorted(m.kind for m in auth.ctx.mailer.list_mail()) == ["password_changed", "reset"]


def test_di02_with_the_apps_own_session(engine):
    """``session=`` (the app's Session, as Flask-SQLAlchemy gives): the same all or nothing,
    and the taken-address path reads through the transaction."""
    app_session = Session(engine)
    store = FailAfterInsert(engine, default_models(), session=app_session)
    auth = outbox_auth(store)
    store.failing = True
    with pytest.raises(StoreUnavailable):
        auth.register("ann@example.com", PASSWORD)
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (0, 0)
    store.failing = False
    assert auth.register("ann@example.com", PASSWORD) is not None
    assert auth.register("ann@example.com", PASSWORD) is None
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (1, 2)
    assert store.get_user_by_email("ann@example.com") is not None
    app_session.close()


def test_di02_over_http_a_mail_not_stored_answers_503(engine):
    """Through the Flask adapter: the contract's 503 ``store_unavailable``, no account."""
    store = FailAfterInsert(engine, default_models())
    store.failing = True
    app = Flask(__name__)
    Doorward(
        app,
        store=store,
        settings=settings(),
        mailer=OutboxMailer(store, Nowhere(), background=False),
    )
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="https://testserver"
    ) as http:
        csrf = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
        answer = http.post(
            "/auth/register",
            json={"email": "ann@example.com", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf, **JSON},
        )
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "store_unavailable")
    assert count(engine, "users") == 0


def test_a_sqlite_rate_limiter_on_the_same_engine_joins_the_transaction(tmp_path):
    """On SQLite the transaction holds the write lock; the mail limiter on the same engine
    counts inside it instead of waiting for it (it would fail after the busy timeout)."""
    engine = sqlite_engine(f"sqlite:///{tmp_path}/limited.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    mailer = OutboxMailer(store, Nowhere(), background=False)
    auth = Auth(settings(), store, mailer=mailer, limiter=SQLAlchemyRateLimiter(engine))
    assert auth.register("ann@example.com", PASSWORD) is not None
    assert (count(engine, "mail_outbox"), count(engine, "rate_limits")) == (1, 1)
    engine.dispose()


def run_at_once(n: int, work) -> tuple[list[object], list[BaseException]]:
    """Run ``work(i)`` in ``n`` threads released together; their results and errors."""
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results.append(work(i))
        except BaseException as exc:  # collected for the caller's asserts
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def test_concurrent_registrations_on_sqlite_all_commit(tmp_path):
    """Eight threads register at once on one SQLite file: every transaction takes the
    write lock in turn (BEGIN IMMEDIATE), none fails with "database is locked"."""
    engine = sqlite_engine(f"sqlite:///{tmp_path}/busy.sqlite3")
    Base.metadata.create_all(engine)
    auth = outbox_auth(SQLAlchemyStore(engine, default_models()))
    _, errors = run_at_once(8, lambda i: auth.register(f"user{i}@example.com", PASSWORD))
    assert errors == []
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (8, 8)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def async_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/tx.sqlite3"
    fixture = "postgres_database" if request.param == "postgres" else "mariadb_database"
    url = request.getfixturevalue(fixture)
    return url.set(drivername=ASYNC_DRIVERS[url.drivername])


def test_di02_async_registration_is_all_or_nothing(async_url):
    """The async face: a failed outbox insert leaves no user; then both rows, one commit."""

    async def scenario() -> None:
        if str(async_url).startswith("sqlite"):
            engine = async_sqlite_engine(async_url)
        else:
            engine = create_async_engine(async_url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        failing = [True]

        class Failing(AsyncSQLAlchemyStore):
            async def enqueue_mail(self, message):
                await super().enqueue_mail(message)
                if failing[0]:
                    raise StoreUnavailable

        store = Failing(engine, default_models())
        mailer = AsyncOutboxMailer(store, Nowhere(), background=False)
        auth = AsyncAuth(settings(), store, mailer=mailer)
        await auth.create_user("bob@example.com", PASSWORD)
        with pytest.raises(StoreUnavailable):
            await auth.register("ann@example.com", PASSWORD)
        assert await store.get_user_by_email("ann@example.com") is None
        assert await mailer.list_mail() == []
        failing[0] = False
        commits = counting_commits(engine.sync_engine)
        assert await auth.register("ann@example.com", PASSWORD) is not None
        assert len(commits) == 1
        assert [m.kind for m in await mailer.list_mail()] == ["confirm"]
        assert await auth.register("ann@example.com", PASSWORD) is None
        assert len(await mailer.list_mail()) == 2
        await engine.dispose()

    asyncio.run(scenario())


def test_di02_one_address_registered_at_once_in_transactions(engine):
    """Six registrations of one address at once, each in its transaction: one account,
    one confirmation and five notices to the owner; no error (the unique index still
    settles the race, LE-04)."""
    auth = outbox_auth(SQLAlchemyStore(engine, default_models()))
    results, errors = run_at_once(6, lambda _: auth.register("ann@example.com", PASSWORD))
    assert errors == []
    assert sum(r is not None for r in results) == 1
    kinds = sorted(m.kind for m in auth.ctx.mailer.list_mail())
    assert kinds == ["confirm"] + ["existing_account"] * 5
    assert count(engine, "users") == 1


def test_di02_one_reset_token_used_at_once_in_transactions(engine):
    """Four uses of one reset token at once, each in its transaction: exactly one sets the
    password (and mails the notice); the others are refused as an invalid token (CC-02)."""
    from doorward.exceptions import InvalidToken

    store = SQLAlchemyStore(engine, default_models())
    auth = outbox_auth(store)
    auth.create_user("ann@example.com", PASSWORD, confirmed=True)
    auth.forgot_password("ann@example.com")
    (reset,) = auth.ctx.mailer.list_mail()
    token = reset.text.split("/reset/")[1].split()[0]
    results, errors = run_at_once(
        4, lambda i: auth.reset_password(token, f"new long passphrase number {i}")
    )
    assert len(results) == 1
    assert [type(e) for e in errors] == [InvalidToken] * 3
    assert sorted(m.kind for m in auth.ctx.mailer.list_mail()) == ["password_changed", "reset"]


def test_the_background_worker_does_not_inherit_the_requests_transaction(tmp_path):
    """The first mail starts the async worker inside the request's transaction; the task
    starts from an empty context, so its claims never see that (by then closed) session."""
    from doorward_sqlalchemy._async.unit import bound_to

    async def scenario() -> list[object]:
        engine = async_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path}/bg.sqlite3")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        seen: list[object] = []

        class Looking(AsyncSQLAlchemyStore):
            async def claim_mail(self, *args):
                seen.append(bound_to(engine))
                return await super().claim_mail(*args)

        store = Looking(engine, default_models())
        mailer = AsyncOutboxMailer(store, Nowhere(), poll_interval=0.05)
        auth = AsyncAuth(settings(), store, mailer=mailer)
        await auth.register("ann@example.com", PASSWORD)
        while not seen:
            await asyncio.sleep(0.01)
        assert await mailer.close(5)
        await engine.dispose()
        return seen

    assert set(asyncio.run(scenario())) == {None}


def test_le07_a_sign_in_code_request_is_one_transaction_on_both_paths(engine):
    """A code for an account and a decoy for an unknown address: each path writes (the
    code, or a delete matching nothing) and stores its mail in one transaction, with the
    same statements around them (LE-07)."""
    store = SQLAlchemyStore(engine, default_models())
    mailer = OutboxMailer(store, Nowhere(), background=False)
    auth = Auth(settings(sign_in_by_email=True), store, mailer=mailer)
    auth.create_user("ann@example.com", PASSWORD, confirmed=True)
    passwordless = auth.ctx.feature_named("passwordless")
    shapes = []
    for email in ("ann@example.com", "nobody@example.com"):
        statements: list[str] = []

        def record(conn, cursor, statement, *_, into=statements) -> None:
            into.append(statement.split()[0].upper())

        sa.event.listen(engine, "before_cursor_execute", record)
        commits = counting_commits(engine)
        passwordless.request_code(email)
        sa.event.remove(engine, "before_cursor_execute", record)
        kept = [s for s in statements if s in {"BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"}]
        shapes.append((len(commits), kept))
    assert shapes[0] == shapes[1]
    assert shapes[0][0] == 1
    assert [m.decoy for m in mailer.list_mail()] == [False, True]


def test_a_threaded_store_keeps_the_two_step_write(tmp_path):
    """``AsyncThreadedStore`` (a sync store for an async app) runs each call in a pool
    thread, so it offers no ``transaction()``: registration works, the mail follows."""
    from doorward.threaded import AsyncThreadedStore

    engine = sqlite_engine(f"sqlite:///{tmp_path}/threaded.sqlite3")
    Base.metadata.create_all(engine)
    store = AsyncThreadedStore(SQLAlchemyStore(engine, default_models()))
    assert not hasattr(store, "transaction")

    async def scenario() -> None:
        mailer = AsyncOutboxMailer(store, Nowhere(), background=False)
        auth = AsyncAuth(settings(), store, mailer=mailer)
        assert await auth.register("ann@example.com", PASSWORD) is not None

    asyncio.run(scenario())
    assert (count(engine, "users"), count(engine, "mail_outbox")) == (1, 1)
    engine.dispose()
