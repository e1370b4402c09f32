"""An app whose mail goes through a durable outbox, for the kill -9 and CLI tests.

``OUTBOX_DB`` (a SQLAlchemy URL of a file-backed SQLite or a PostgreSQL database) and
``OUTBOX_SMTP_PORT`` configure it (``OUTBOX_LEASE`` in seconds, ``OUTBOX_BACKGROUND=0``
for no background worker); ``doorward --app tests.outbox.outbox_app:auth ...``
loads it. Run as a script, it sends two reset mails, says ``stored`` and waits to be
killed while its background worker is in the middle of delivering them.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

import sqlalchemy as sa

from doorward import Argon2Params, Auth, Settings
from doorward.outbox import OutboxMailer, SmtpConfig, SmtpDelivery
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base

URL = os.environ["OUTBOX_DB"]
engine = sqlite_engine(URL) if URL.startswith("sqlite") else sa.create_engine(URL)
Base.metadata.create_all(engine)
store = SQLAlchemyStore(engine, default_models())
mailer = OutboxMailer(
    store,
    SmtpDelivery(
        SmtpConfig(
            host="127.0.0.1",
            port=int(os.environ["OUTBOX_SMTP_PORT"]),
            sender="no-reply@example.com",
            timeout=3600,
        )
    ),
    lease=timedelta(seconds=float(os.environ.get("OUTBOX_LEASE", "300"))),
    poll_interval=0.1,
    background=os.environ.get("OUTBOX_BACKGROUND", "1") == "1",
)
auth = Auth(
    Settings(
        secret_keys="outbox-app-secret-key-0123456789abcdefgh",
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
    ),
    store,
    mailer=mailer,
)

if __name__ == "__main__":
    for name in ("ann", "bob"):
        auth.create_user(f"{name}@example.com", "a long enough passphrase", confirmed=True)
        auth.forgot_password(f"{name}@example.com")
    print("stored", flush=True)
    time.sleep(3600)
    sys.exit(1)
