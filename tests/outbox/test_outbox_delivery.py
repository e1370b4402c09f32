"""Durable mail through the outbox, with real components (DI-02): aiosmtpd on loopback,
an SMTP outage of an hour (the server stopped, then back), dead letters after the retry
budget, decoys (LE-07), the background thread and task, two workers on one database."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pymongo import MongoClient

from doorward import Argon2Params, AsyncAuth, Auth, FrozenClock, Settings
from doorward.mail import Mail
from doorward.outbox import (
    RETRY_DELAYS,
    AsyncOutboxMailer,
    MailWorker,
    OutboxMailer,
    SmtpConfig,
    SmtpDelivery,
)
from doorward_mongo import MongoStore
from doorward_sqlalchemy import (
    AsyncSQLAlchemyStore,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base

from ._smtp import CountingServer

SENDER = "no-reply@example.test"


def delivery(port: int, timeout: float = 5.0) -> SmtpDelivery:
    return SmtpDelivery(SmtpConfig(host="127.0.0.1", port=port, sender=SENDER, timeout=timeout))


def mail(i: int) -> Mail:
    return Mail(
        to=f"user{i}@example.test", subject=f"m{i}", text=f"https://x.test/{i}", kind="reset"
    )


def settings() -> Settings:
    return Settings(
        secret_keys="outbox-tests-secret-key-0123456789abcdef",
        base_url="https://app.example.test",
        argon2=Argon2Params.insecure_for_tests(),
    )


@pytest.fixture
def sqlite_store(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/outbox.sqlite3")
    Base.metadata.create_all(engine)
    yield SQLAlchemyStore(engine, default_models())
    engine.dispose()


@pytest.fixture
def smtp():
    server = CountingServer().start()
    yield server
    server.stop()


def test_retry_budget_spans_over_an_hour():
    """The default schedule retries for at least an hour before a message is dead."""
    assert sum(RETRY_DELAYS) >= 3600
    assert RETRY_DELAYS[0] == 30
    assert max(RETRY_DELAYS) == 600


def test_di02_an_hour_of_smtp_outage_loses_nothing_and_delivers_once(sqlite_store, smtp):
    """Mail sent while the SMTP server is down for an hour stays in the store's outbox,
    is retried with backoff, and once the server is back each message arrives once."""
    clock = FrozenClock()
    mailer = OutboxMailer(sqlite_store, delivery(smtp.port, 1.0), clock=clock, background=False)
    smtp.stop()  # the outage begins
    for i in range(20):
        mailer.send(mail(i))
    worker = mailer.worker
    elapsed = 0.0
    while elapsed < 3600:
        worker.drain()
        clock.advance(60)
        elapsed += 60
    assert smtp.total() == 0
    assert worker.delivered == 0
    assert worker.failed >= 20 * 9  # every message tried again and again
    pending = mailer.list_mail("pending")
    assert len(pending) == 20
    assert all(m.last_error for m in pending)
    assert mailer.list_mail("dead") == []
    smtp.start()  # the server is back
    clock.advance(600)
    assert worker.drain() == 20
    assert smtp.counts() == {f"m{i}": 1 for i in range(20)}
    assert len(mailer.list_mail("sent")) == 20
    clock.advance(3600)
    assert worker.drain() == 0
    assert smtp.total() == 20


def test_di02_dead_letter_after_the_retry_budget_then_retry(sqlite_store, smtp, caplog):
    """A message that never gets through is dead after the last attempt (over an hour
    after the first), logged without its address; retry_mail sends it again."""
    clock = FrozenClock()
    start = clock.now()
    mailer = OutboxMailer(sqlite_store, delivery(smtp.port, 1.0), clock=clock, background=False)
    smtp.stop()
    mailer.send(mail(1))
    caplog.set_level(logging.WARNING, logger="doorward.mail")
    died_at = None
    for _ in range(2000):
        mailer.worker.drain()
        if mailer.list_mail("dead"):
            died_at = clock.now()
            break
        clock.advance(10)
    assert died_at is not None
    assert died_at - start >= timedelta(hours=1)
    (dead,) = mailer.list_mail("dead")
    assert dead.attempts == len(RETRY_DELAYS) + 1
    assert dead.last_error == "MailerUnavailable"
    assert "user1@example.test" not in caplog.text
    assert "https://x.test" not in caplog.text
    assert "is dead after 12 attempts" in caplog.text
    smtp.start()
    assert mailer.retry_mail([dead.id]) == 1
    assert mailer.worker.drain() == 1
    assert smtp.counts() == {"m1": 1}


def test_decoys_are_stored_like_mail_and_never_delivered(sqlite_store, smtp):
    """LE-07: a decoy costs the request the same insert; the worker drops it."""
    mailer = OutboxMailer(sqlite_store, delivery(smtp.port), background=False)
    mailer.send(Mail(to="nobody@example.test", subject="decoy", text="t", kind="reset", decoy=True))
    mailer.send(mail(2))
    assert len(mailer.list_mail()) == 2
    assert mailer.worker.drain() == 2
    assert smtp.counts() == {"m2": 1}
    assert mailer.worker.discarded == 1


def test_flows_mail_through_the_background_thread(sqlite_store, smtp):
    """Auth with an OutboxMailer: the forgot-password mail is stored, then delivered by
    the process's background thread; close stops it."""
    mailer = OutboxMailer(sqlite_store, delivery(smtp.port), poll_interval=0.2)
    auth = Auth(settings(), sqlite_store, mailer=mailer)
    auth.create_user("ann@example.com", "a long enough passphrase", confirmed=True)
    auth.forgot_password("ann@example.com")
    deadline = time.monotonic() + 10
    while smtp.total() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert smtp.total() == 1
    assert mailer.close(5)
    (sent,) = mailer.list_mail("sent")
    assert sent.kind == "reset"


def test_async_flows_mail_through_a_background_task(tmp_path, smtp):
    """AsyncAuth with an AsyncOutboxMailer on aiosqlite: a task of the loop delivers (SMTP
    in a worker thread, so the loop keeps serving); close ends the task."""

    async def scenario() -> None:
        engine = async_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path}/async.sqlite3")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        store = AsyncSQLAlchemyStore(engine, default_models())
        mailer = AsyncOutboxMailer(store, delivery(smtp.port), poll_interval=0.2)
        mailer.start()
        auth = AsyncAuth(settings(), store, mailer=mailer)
        await auth.create_user("bob@example.com", "a long enough passphrase", confirmed=True)
        await auth.forgot_password("bob@example.com")
        ticks = 0
        deadline = time.monotonic() + 10
        while smtp.total() < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            ticks += 1
        assert smtp.total() == 1
        assert ticks > 0
        assert await mailer.close(5)
        assert not mailer.worker.background.running()
        await engine.dispose()

    asyncio.run(scenario())


def _race_two_workers(stores, port: int, n: int) -> tuple[list[MailWorker], float]:
    mailer = OutboxMailer(stores[0], delivery(port), background=False)
    for i in range(n):
        mailer.send(mail(i))
    workers = [MailWorker(store, delivery(port), batch=5) for store in stores]
    barrier = threading.Barrier(len(workers))

    def run(worker: MailWorker) -> None:
        barrier.wait()
        worker.drain()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return workers, time.perf_counter() - began


@pytest.mark.postgres
def test_di02_two_workers_on_postgresql_deliver_each_message_once(postgres_database, smtp):
    """Two workers, each with its own engine (as two processes), drain one PostgreSQL
    outbox: every message arrives exactly once and both workers took part."""
    engines = [sa.create_engine(postgres_database) for _ in range(2)]
    Base.metadata.drop_all(engines[0])
    Base.metadata.create_all(engines[0])
    stores = [SQLAlchemyStore(engine, default_models()) for engine in engines]
    workers, seconds = _race_two_workers(stores, smtp.port, 200)
    assert smtp.counts() == {f"m{i}": 1 for i in range(200)}
    assert sum(w.delivered for w in workers) == 200
    assert all(w.delivered > 0 for w in workers)
    print(f"two workers on PostgreSQL: 200 messages in {seconds:.2f} s")
    for engine in engines:
        engine.dispose()


@pytest.mark.mongo
def test_di02_two_workers_on_mongo_deliver_each_message_once(mongo_url, smtp):
    """The same on one Mongo database, each worker with its own client."""
    clients = [MongoClient(mongo_url, tz_aware=True) for _ in range(2)]
    name = "doorward_outbox_race"
    clients[0].drop_database(name)
    stores = [MongoStore(client, name) for client in clients]
    stores[0].ensure_indexes()
    try:
        workers, seconds = _race_two_workers(stores, smtp.port, 100)
        assert smtp.counts() == {f"m{i}": 1 for i in range(100)}
        assert sum(w.delivered for w in workers) == 100
        print(f"two workers on Mongo: 100 messages in {seconds:.2f} s")
    finally:
        clients[0].drop_database(name)
        for client in clients:
            client.close()


def test_le07_forgot_password_does_equal_work_with_the_outbox(sqlite_store, smtp):
    """With the outbox mailer, forgot-password for an account and for an unknown address
    makes the same calls, one insert into the outbox included; only the account's mail is
    delivered (the decoy is dropped by the worker)."""
    from doorward.testing._sync.flows_contract import Recording

    calls: list[str] = []
    mailer = OutboxMailer(
        Recording(sqlite_store, "outbox", calls), delivery(smtp.port), background=False
    )
    auth = Auth(settings(), Recording(sqlite_store, "store", calls), mailer=mailer)
    auth.create_user("ann@example.com", "a long enough passphrase", confirmed=True)
    sequences = []
    for email in ("ann@example.com", "nobody@example.com"):
        calls.clear()
        auth.forgot_password(email, ip="192.0.2.1")
        sequences.append(list(calls))
    assert sequences[0] == ["store.get_user_by_email", "outbox.enqueue_mail"]
    assert sequences[0] == sequences[1]
    assert mailer.worker.drain() == 2
    assert smtp.by_recipient() == {"ann@example.com": 1}
    assert mailer.worker.discarded == 1


def test_le07_a_worker_waits_until_a_new_message_is_hold_old(sqlite_store, smtp):
    """The worker's SMTP exchange for a just-written message waits ``hold`` (LE-07): it
    never runs during the request that wrote the mail."""
    import time

    from doorward.outbox import MailWorker, OutboxMailer

    mailer = OutboxMailer(sqlite_store, delivery(smtp.port), background=False)
    worker = MailWorker(sqlite_store, delivery(smtp.port), hold=0.3)
    began = time.monotonic()  # before the write: the hold counts from the message's creation
    mailer.send(mail(0))
    assert worker.run_once() == 1
    assert time.monotonic() - began >= 0.3
    assert smtp.total() == 1
