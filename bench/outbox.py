"""Throughput of the durable outbox (DI-02), on demand; never part of the test suite.

    .venv/bin/python bench/outbox.py                 # SQLite file, about 10 s
    .venv/bin/python bench/outbox.py --n 1000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test   # drops its tables

Prints, per database, the µs one ``OutboxMailer.send`` costs a request (one insert) and
the messages per second one ``MailWorker`` and two (and on PostgreSQL four) workers
(threads, each with its own engine) deliver to aiosmtpd on loopback, a new SMTP connection per message.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorward.mail import Mail  # noqa: E402 (after the path set-up, as bench/limiters.py)
from doorward.outbox import MailWorker, OutboxMailer, SmtpConfig, SmtpDelivery  # noqa: E402
from doorward.testing.smtp import SmtpServer  # noqa: E402
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine  # noqa: E402
from doorward_sqlalchemy.models import Base  # noqa: E402


def run(label: str, make_engine, n: int, port: int, smtp: SmtpServer, counts=(1, 2, 4)) -> None:
    engines = [make_engine() for _ in range(max(counts))]
    Base.metadata.drop_all(engines[0])
    Base.metadata.create_all(engines[0])
    stores = [SQLAlchemyStore(engine, default_models()) for engine in engines]
    delivery = SmtpDelivery(SmtpConfig(host="127.0.0.1", port=port, sender="a@example.com"))
    mailer = OutboxMailer(stores[0], delivery, background=False)
    for workers in counts:
        smtp.messages.clear()
        began = time.perf_counter()
        for i in range(n):
            mailer.send(Mail(to=f"u{i}@example.com", subject=f"m{i}", text="https://x/y"))
        enqueue = (time.perf_counter() - began) / n * 1e6
        team = [MailWorker(store, delivery, batch=10) for store in stores[:workers]]
        threads = [threading.Thread(target=worker.drain) for worker in team]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        assert len(smtp.messages) == n, len(smtp.messages)
        print(
            f"{label:10} send {enqueue:7.0f} µs   {workers} worker(s): "
            f"{n / seconds:6.0f} messages/s ({n} in {seconds:.2f} s)"
        )
    for engine in engines:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    with SmtpServer() as smtp, tempfile.TemporaryDirectory() as folder:
        run(
            "SQLite",
            lambda: sqlite_engine(f"sqlite:///{folder}/outbox.sqlite3"),
            args.n,
            smtp.port,
            smtp,
            counts=(1, 2),
        )
        if args.postgres:
            run("PostgreSQL", lambda: sa.create_engine(args.postgres), args.n, smtp.port, smtp)


if __name__ == "__main__":
    main()
