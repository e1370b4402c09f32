"""``flask doorward mail ...`` and ``flask doorward mail-worker`` on a Flask app whose
mailer is an OutboxMailer over a SQLite file (DI-02)."""

from __future__ import annotations

from flask import Flask

from doorward import Argon2Params, Auth, MemoryStore, Settings
from doorward.mail import Mail
from doorward.mailers import Outbox
from doorward.outbox import OutboxMailer, SmtpConfig, SmtpDelivery
from doorward_flask import Doorward
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base

from ._smtp import CountingServer


def test_flask_cli_mail_commands(tmp_path):
    """list --dead, retry (refused without ids), retry --all, mail-worker --once, purge."""
    server = CountingServer()
    engine = sqlite_engine(f"sqlite:///{tmp_path}/flask.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    config = SmtpConfig(host="127.0.0.1", port=server.port, sender="a@example.com")
    mailer = OutboxMailer(store, SmtpDelivery(config), background=False, retry_delays=())
    settings = Settings(
        secret_keys="flask-outbox-secret-key-0123456789abcdef",
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
    )
    app = Flask(__name__)
    Doorward(app, auth=Auth(settings, store, mailer=mailer))
    runner = app.test_cli_runner()
    for i in range(2):
        mailer.send(Mail(to=f"u{i}@example.com", subject="s", text="https://t/x", kind="confirm"))
    assert "claimed 2: delivered 0, failed 2 (dead 2)" in (
        runner.invoke(args=["doorward", "mail-worker", "--once"]).output
    )
    dead = runner.invoke(args=["doorward", "mail", "list", "--dead"]).output.splitlines()
    assert len(dead) == 2
    assert "https://t/x" not in "\n".join(dead)
    refused = runner.invoke(args=["doorward", "mail", "retry"])
    assert refused.exit_code != 0
    assert "--all" in refused.output
    server.start()
    try:
        result = runner.invoke(args=["doorward", "mail", "retry", "--all"])
        assert result.output.strip() == "2 messages will be sent again"
        assert "delivered 2" in runner.invoke(args=["doorward", "mail-worker", "--once"]).output
        assert server.total() == 2
        result = runner.invoke(args=["doorward", "mail", "purge", "--days", "0"])
        assert result.output.strip() == "purged 2 sent messages"
    finally:
        server.stop()
        engine.dispose()


def test_flask_cli_refuses_a_mailer_without_outbox():
    """With a mailer that keeps no outbox the mail commands say what to configure."""
    settings = Settings(
        secret_keys="flask-outbox-secret-key-0123456789abcdef",
        base_url="https://app.example.com",
        argon2=Argon2Params.insecure_for_tests(),
    )
    app = Flask(__name__)
    Doorward(app, auth=Auth(settings, MemoryStore(), mailer=Outbox()))
    result = app.test_cli_runner().invoke(args=["doorward", "mail", "list"])
    assert result.exit_code != 0
    assert "keeps no outbox" in result.output
