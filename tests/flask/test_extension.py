"""The Flask extension: configuration, current_user, decorators, signals, CLI, faults."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import httpx
import pytest
from flask import Flask, jsonify, render_template_string
from werkzeug.serving import make_server

from doorward import Argon2Params, MemoryStore, Role, Settings
from doorward._smtp import SmtpConfig
from doorward._sync.mailers import Outbox, SmtpMailer
from doorward.clock import FrozenClock
from doorward.exceptions import ConfigurationError, StoreUnavailable
from doorward.testing.smtp import SmtpServer
from doorward.tokens import CredentialSecrets
from doorward_flask import (
    Doorward,
    current_user,
    fresh_login_required,
    login_required,
    permissions_required,
    roles_accepted,
    roles_required,
    signals,
)

SECRET = "flask-tests-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}


def settings(**overrides):
    values = {
        "secret_keys": SECRET,
        "base_url": "https://app.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
    }
    values.update(overrides)
    return Settings(**values)


def make_app(store=None, mailer=None, **overrides):
    app = Flask(__name__)
    store = store or MemoryStore()
    Doorward(
        app,
        store=store,
        settings=settings(**overrides),
        mailer=mailer or Outbox(),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )

    @app.get("/private")
    @login_required
    def private():
        return jsonify(email=current_user.email)

    @app.get("/admin")
    @roles_required("admin")
    def admin():
        return "admin"

    @app.get("/staff")
    @roles_accepted("admin", "staff")
    def staff():
        return "staff"

    @app.get("/reports")
    @permissions_required("reports:read")
    def reports():
        return "reports"

    @app.get("/sensitive")
    @fresh_login_required
    def sensitive():
        return "fresh"

    @app.get("/hello")
    def hello():
        return render_template_string(
            "{% if current_user %}hi {{ current_user.email }}{% else %}anonymous{% endif %}"
        )

    return app


def client(app):
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")


def login(http, email="a@example.com", password=PASSWORD):
    token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    response = http.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-CSRF-Token": token, **JSON},
    )
    assert response.status_code == 200, response.text
    return response


def test_config_from_app_config():
    """DOORWARD_* keys build the settings; a missing secret or an unknown key stops start-up."""
    app = Flask(__name__)
    app.config.update(
        DOORWARD_SECRET_KEY=SECRET,
        DOORWARD_BASE_URL="https://x.example.com",
        DOORWARD_URL_PREFIX="/account",
    )
    Doorward(app, store=MemoryStore())
    assert app.extensions["doorward"].settings.url_prefix == "/account"
    for config in (
        {"DOORWARD_BASE_URL": "https://x.example.com"},
        {
            "DOORWARD_SECRET_KEY": SECRET,
            "DOORWARD_BASE_URL": "https://x.example.com",
            "DOORWARD_SECRT": 1,
        },
    ):
        bad = Flask(__name__)
        bad.config.update(config)
        with pytest.raises(ConfigurationError):
            Doorward(bad, store=MemoryStore())


def test_init_app_twice_is_an_error():
    """Registering doorward twice on one app raises and says so."""
    app = make_app()
    with pytest.raises(RuntimeError, match="already registered"):
        Doorward(app, store=MemoryStore(), settings=settings())


def test_current_user_and_login_required():
    """Anonymous: JSON 401, browsers redirected to login with next; logged in: the app's user object."""
    app = make_app()
    app.extensions["doorward"].auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    assert http.get("/private", headers=JSON).status_code == 401
    page = http.get("/private")
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/login?next=/private"
    assert http.get("/hello").text == "anonymous"
    login(http)
    assert http.get("/private", headers=JSON).json() == {"email": "a@example.com"}
    assert http.get("/hello").text == "hi a@example.com"


def test_roles_and_permissions_decorators():
    """Missing roles or permissions give 403; the right ones let the user in."""
    app = make_app()
    auth = app.extensions["doorward"].auth
    auth.store.save_role(Role(name="staff", permissions=frozenset({"reports:read"})))
    auth.store.save_role(Role(name="admin"))
    user = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http)
    assert http.get("/admin", headers=JSON).status_code == 403
    assert http.get("/staff", headers=JSON).status_code == 403
    assert http.get("/reports", headers=JSON).status_code == 403
    auth.add_role(user, "staff")
    assert http.get("/admin", headers=JSON).status_code == 403
    assert http.get("/staff").status_code == 200
    assert http.get("/reports").status_code == 200


def test_fresh_login_required():
    """A stale session is sent to re-authenticate; a fresh one passes."""
    app = make_app()
    auth = app.extensions["doorward"].auth
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http)
    assert http.get("/sensitive").status_code == 200
    auth.clock.advance(660)
    assert http.get("/sensitive", headers=JSON).json()["error"]["code"] == "reauth_required"
    assert http.get("/sensitive").headers["location"].startswith("/auth/reauth?next=")


def test_signals_fire_for_core_events():
    """A blinker signal per core event reaches subscribers with the event's fields."""
    app = make_app()
    app.extensions["doorward"].auth.create_user("a@example.com", PASSWORD, confirmed=True)
    seen = []

    def on_login(sender, **fields):
        seen.append((sender, fields["user_id"]))

    signals["login_succeeded"].connect(on_login, sender=app)
    try:
        login(client(app))
    finally:
        signals["login_succeeded"].disconnect(on_login)
    assert [app] == [s for s, _ in seen]


def test_cli_users_roles_tokens():
    """The CLI creates users and roles, gives roles, deactivates and revokes tokens."""
    app = make_app()
    auth = app.extensions["doorward"].auth
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["doorward", "users", "create", "cli@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert (
        runner.invoke(
            args=["doorward", "roles", "create", "admin", "--permission", "all"]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(args=["doorward", "roles", "add", "cli@example.com", "admin"]).exit_code == 0
    )
    assert "admin\tall" in runner.invoke(args=["doorward", "roles", "list"]).output
    user = auth.get_user_by_email("cli@example.com")
    assert auth.has_roles(user, "admin")
    _, record = auth.issue_api_token(user, "ci")
    assert (
        runner.invoke(args=["doorward", "tokens", "revoke", "cli@example.com", record.id]).exit_code
        == 0
    )
    assert auth.list_api_tokens(user) == []
    assert runner.invoke(args=["doorward", "users", "deactivate", "cli@example.com"]).exit_code == 0
    assert not auth.get_user_by_email("cli@example.com").active
    short = runner.invoke(
        args=["doorward", "users", "set-password", "cli@example.com", "--password", "short"]
    )
    assert short.exit_code != 0
    assert "characters" in short.output
    assert (
        runner.invoke(args=["doorward", "users", "activate", "nobody@example.com"]).exit_code != 0
    )
    assert (
        runner.invoke(args=["doorward", "users", "delete", "cli@example.com", "--yes"]).exit_code
        == 0
    )
    assert auth.get_user_by_email("cli@example.com") is None


class DownStore:
    """A store whose database is down."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise StoreUnavailable

        return fail


def test_ft05_store_down_means_anonymous_and_503():
    """With the store down, app pages see an anonymous user and auth routes answer 503."""
    app = make_app(store=DownStore())
    http = client(app)
    http.cookies.set("__Host-doorward", CredentialSecrets([SECRET]).new("session")[0])
    assert http.get("/private", headers=JSON).status_code == 401
    me = http.get("/auth/me", headers=JSON)
    assert me.status_code == 503
    assert me.json()["error"]["code"] == "store_unavailable"


def test_hd01_hd02_guard_refusals_carry_the_security_headers():
    """The decorators' refusals (401, 303 to login, 403) and a store-down 503 are no-store,
    nosniff and unframeable, as the core decides."""
    app = make_app()
    app.extensions["doorward"].auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    refusals = [http.get("/private", headers=JSON), http.get("/private")]
    login(http)
    refusals.append(http.get("/admin", headers=JSON))
    down = client(make_app(store=DownStore()))
    down.cookies.set("__Host-doorward", CredentialSecrets([SECRET]).new("session")[0])
    refusals.append(down.get("/auth/me", headers=JSON))
    assert [r.status_code for r in refusals] == [401, 303, 403, 503]
    for response in refusals:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_end_to_end_over_a_real_server_and_smtp():
    """Over werkzeug on 127.0.0.1 with mail through aiosmtpd: register, follow the mailed link, log in, log out."""
    with SmtpServer() as smtp:
        mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com"))
        app = make_app(mailer=mailer, base_url="http://127.0.0.1:1", insecure_development=True)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with httpx.Client(base_url=base, timeout=10) as http:
                token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
                headers = {"X-CSRF-Token": token, **JSON}
                assert (
                    http.post(
                        "/auth/register",
                        json={"email": "e2e@example.com", "password": PASSWORD},
                        headers=headers,
                    ).status_code
                    == 202
                )
                smtp.wait_for(1)
                link = smtp.first_link(to="e2e@example.com")
                path = re.sub(r"^https?://[^/]+", "", link)
                assert http.get(path).status_code == 200
                assert http.post(path, headers=headers).status_code == 200
                assert (
                    http.post(
                        "/auth/login",
                        json={"email": "e2e@example.com", "password": PASSWORD},
                        headers=headers,
                    ).status_code
                    == 200
                )
                assert (
                    http.get("/auth/me", headers=JSON).json()["user"]["email"] == "e2e@example.com"
                )
                token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
                assert (
                    http.post("/auth/logout", headers={"X-CSRF-Token": token, **JSON}).status_code
                    == 204
                )
                assert http.get("/auth/me", headers=JSON).status_code == 401
        finally:
            server.shutdown()
            thread.join(5)


def test_cli_imports_users_with_old_hashes_that_then_log_in(tmp_path):
    """``flask doorward users import`` creates users with their bcrypt/Django hashes; each
    logs in with the old password over HTTP and is stored as argon2id afterwards."""
    import hashlib
    import json as jsonlib

    import bcrypt

    from doorward import Auth
    from doorward.legacy import BcryptVerifier, DjangoVerifier, LegacyHasher

    salt = "s" * 22
    digest = hashlib.pbkdf2_hmac("sha256", b"django password of ann", salt.encode(), 1000)
    import base64

    django_hash = f"pbkdf2_sha256$1000${salt}${base64.b64encode(digest).decode()}"
    bcrypt_hash = bcrypt.hashpw(b"bcrypt password of bob", bcrypt.gensalt(rounds=4)).decode()
    export = tmp_path / "users.jsonl"
    export.write_text(
        jsonlib.dumps({"email": "ann@example.com", "password_hash": django_hash, "confirmed": True})
        + "\n"
        + jsonlib.dumps(
            {"email": "bob@example.com", "password_hash": bcrypt_hash, "confirmed": True}
        )
        + "\n"
    )
    config = settings()
    auth = Auth(
        config,
        MemoryStore(),
        mailer=Outbox(),
        hasher=LegacyHasher.from_settings(config, [DjangoVerifier(), BcryptVerifier()]),
    )
    app = Flask(__name__)
    Doorward(app, auth=auth)
    result = app.test_cli_runner().invoke(args=["doorward", "users", "import", str(export)])
    assert result.exit_code == 0, result.output
    assert "imported 2 users" in result.output
    again = app.test_cli_runner().invoke(args=["doorward", "users", "import", str(export)])
    assert "imported 0 users; 2 addresses already taken" in again.output
    for email, password in (
        ("ann@example.com", "django password of ann"),
        ("bob@example.com", "bcrypt password of bob"),
    ):
        http = client(app)
        token = http.get("/auth/csrf", headers={"Accept": "application/json"}).json()["csrf_token"]
        answer = http.post(
            "/auth/login",
            json={"email": email, "password": password},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 200, answer.text
        assert auth.get_user_by_email(email).password_hash.startswith("$argon2id$")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"email": "not an address", "password_hash": "x"}\n')
    refused = app.test_cli_runner().invoke(args=["doorward", "users", "import", str(bad)])
    assert refused.exit_code != 0
    assert "nothing was imported" in refused.output


def test_cli_reset_mfa_removes_every_factor_and_mails_a_notice():
    """``flask doorward users reset-mfa`` (support staff, a lost phone): TOTP, recovery codes
    and trusted browsers are gone, the password alone logs in again, a notice is mailed."""
    from doorward import Authenticator

    store, outbox = MemoryStore(), Outbox()
    app = make_app(store=store, mailer=outbox)
    auth = app.extensions["doorward"].auth
    user = auth.create_user("lost@example.com", PASSWORD, confirmed=True)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for kind, confirmed in (("totp", now), ("recovery", None)):
        store.create_authenticator(
            Authenticator(
                id=f"a-{kind}",
                user_id=str(user.id),
                kind=kind,
                secret=f"secret-{kind}",
                created_at=now,
                confirmed_at=confirmed,
            )
        )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["doorward", "users", "reset-mfa", "lost@example.com"])
    assert result.exit_code == 0, result.output
    assert "removed 2 second factors" in result.output
    assert store.list_authenticators(str(user.id)) == []
    assert [m.kind for m in outbox.messages if m.to == "lost@example.com"][-1] == "mfa_changed"
    logged_in, _ = auth.login("lost@example.com", PASSWORD)
    assert logged_in.email == "lost@example.com"
    unknown = runner.invoke(args=["doorward", "users", "reset-mfa", "nobody@example.com"])
    assert unknown.exit_code != 0


def test_the_request_doorward_reads_has_the_headers_werkzeug_reads():
    """Identification reads headers from the environ when asked; what it reads, and the
    whole set when something iterates it, are werkzeug's (names lower case)."""
    from doorward_flask._state import head_request

    app = make_app()
    sent = {
        "Content-Type": "application/json",
        "X-Forwarded-For": "203.0.113.9",
        "Accept-Language": "fr",
        "Cookie": "a=1; b=2",
    }
    with app.test_request_context("/p?x=1", method="POST", headers=sent, data="{}"):
        from flask import request

        head = head_request()
        expected = {name.lower(): value for name, value in request.headers.items()}
        assert head.headers.get("x-forwarded-for") == "203.0.113.9"
        assert head.headers.get("X-Forwarded-For") == "203.0.113.9"
        assert head.headers["content-type"] == "application/json"
        assert head.headers.get("content-length") == "2"
        assert head.headers.get("authorization") is None
        assert "accept-language" in head.headers
        assert "authorization" not in head.headers
        with pytest.raises(KeyError):
            head.headers["authorization"]
        assert dict(head.headers) == expected
        assert len(head.headers) == len(expected)
        assert head.cookies == {"a": "1", "b": "2"}
        assert head.query == {"x": "1"}
        assert head_request() is head
    with app.test_request_context("/p"):
        head = head_request()
        assert head.cookies == {}
        assert head.query == {}
        assert head.headers.get("content-type", "none") == "none"
