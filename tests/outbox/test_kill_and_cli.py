"""A process killed with SIGKILL in the middle of delivering loses no mail (DI-02); the
``doorward mail ...`` and ``mail-worker`` commands, run as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._smtp import CountingServer

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.outbox.outbox_app:auth"


def environment(url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OUTBOX_DB": url,
        "OUTBOX_SMTP_PORT": str(port),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def doorward(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("doorward")
    done = subprocess.run(
        [script, "--app", APP, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/outbox.sqlite3"
    url = request.getfixturevalue("postgres_database")
    import sqlalchemy as sa

    from doorward_sqlalchemy.models import Base

    engine = sa.create_engine(url)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return url.render_as_string(hide_password=False)


def test_di02_kill_9_mid_delivery_loses_no_mail(database_url):
    """An app process stores two reset mails; its background worker is stuck delivering
    the first when the process gets SIGKILL. A worker started afterwards (the
    ``mail-worker`` command, once the lease has ended) delivers both, each once. An
    in-process queue would have lost them with the process."""
    hanging = CountingServer(hang_first=True).start()
    env = environment(database_url, hanging.port, OUTBOX_LEASE="2")
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.outbox.outbox_app"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "stored"
        assert hanging.hung.wait(20), "the app's worker never began a delivery"
        os.kill(app.pid, signal.SIGKILL)
        assert app.wait(10) == -signal.SIGKILL
    finally:
        if app.poll() is None:
            app.kill()
        hanging.stop()
    assert hanging.total() == 0
    server = CountingServer().start()
    try:
        env = environment(database_url, server.port)
        listed = doorward(env, "mail", "list", "--state", "pending").stdout
        assert listed.count("\tpending\treset\t") == 2
        assert listed.count("\tpending\treset\t1\t") >= 1  # in hand (or leased) when killed
        time.sleep(2.2)  # the dead process's lease ends
        out = doorward(env, "mail-worker", "--once").stdout
        assert "delivered 2" in out
        assert server.by_recipient() == {"ann@example.com": 1, "bob@example.com": 1}
        assert doorward(env, "mail-worker", "--once").stdout.startswith("claimed 0")
        assert server.total() == 2
        sent = doorward(env, "mail", "list", "--state", "sent").stdout.splitlines()
        assert sorted(line.split("\t")[-1] for line in sent) == [
            "ann@example.com",
            "bob@example.com",
        ]
        attempts = sorted(int(line.split("\t")[3]) for line in sent)
        assert attempts[-1] == 2  # the killed attempt counted
        assert attempts[0] in {1, 2}  # 2 if it was claimed in the same batch
    finally:
        server.stop()


def test_cli_mail_list_retry_purge(tmp_path):
    """With SMTP down the worker fails; dead messages are listed, retried by id or all,
    delivered, then purged; nothing prints a body."""
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    server = CountingServer()
    env = environment(url, server.port)
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from tests.outbox.outbox_app import auth;"
                "from doorward.mail import Mail;"
                "[auth.mailer.send(Mail(to=f'u{i}@example.com', subject=f's{i}', text='https://t/x',"
                " kind='confirm')) for i in range(3)]"
            ),
        ],
        env={**env, "OUTBOX_BACKGROUND": "0"},
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    # make them dead at once: one attempt allowed
    from doorward.outbox import MailWorker, SmtpConfig, SmtpDelivery
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine

    engine = sqlite_engine(url)
    store = SQLAlchemyStore(engine, default_models())
    worker = MailWorker(
        store,
        SmtpDelivery(SmtpConfig(host="127.0.0.1", port=server.port, sender="a@example.com")),
        retry_delays=(),
    )
    assert worker.drain() == 3
    assert worker.dead == 3
    dead = doorward(env, "mail", "list", "--dead").stdout.splitlines()
    assert len(dead) == 3
    assert "https://t/x" not in "\n".join(dead)
    assert all("\tdead\tconfirm\t1\t" in line and "MailerUnavailable" in line for line in dead)
    refused = doorward(env, "mail", "retry", check=False)
    assert refused.returncode != 0
    assert "--all" in refused.stderr
    server.start()
    try:
        first = dead[0].split("\t")[0]
        assert (
            doorward(env, "mail", "retry", first).stdout.strip() == "1 messages will be sent again"
        )
        assert (
            doorward(env, "mail", "retry", "--all").stdout.strip()
            == "2 messages will be sent again"
        )
        assert "delivered 3" in doorward(env, "mail-worker", "--once").stdout
        assert server.total() == 3
        assert doorward(env, "mail", "purge").stdout.strip() == "purged 0 sent messages"
        assert (
            doorward(env, "mail", "purge", "--days", "0").stdout.strip() == "purged 3 sent messages"
        )
        assert doorward(env, "mail", "list").stdout.strip() == ""
    finally:
        server.stop()
        engine.dispose()
