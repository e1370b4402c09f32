"""The example apps: each works alone, and both share one user base (one SQLite file, one secret)."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.testclient import TestClient

from examples.flask_app import create_app as create_flask_app
from examples.starlette_app import create_app as create_starlette_app

SECRET = "examples-secret-key-0123456789-0123456789"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}


@pytest.fixture
def apps(tmp_path, monkeypatch):
    monkeypatch.setenv("DOORWARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("DOORWARD_DATABASE_URL", f"sqlite:///{tmp_path}/shared.sqlite3")
    monkeypatch.setenv("DOORWARD_MAIL_URL", "console://")
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:5000")
    flask_app = create_flask_app()
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:8000")
    starlette_app = create_starlette_app()
    return flask_app, starlette_app


def csrf_headers(http):
    return {"X-CSRF-Token": http.get("/auth/csrf", headers=JSON).json()["csrf_token"], **JSON}


def test_register_on_flask_use_on_starlette(apps, capsys):
    """Register and confirm on the Flask example, then the same session cookie works on Starlette."""
    flask_app, starlette_app = apps
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    response = flask.post(
        "/auth/register",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers=csrf_headers(flask),
    )
    assert response.status_code == 202
    link = re.search(r"http://127\.0\.0\.1:5000(/auth/confirm/\S+)", capsys.readouterr().out).group(
        1
    )
    assert flask.post(link, headers=csrf_headers(flask)).status_code == 200
    assert (
        flask.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers=csrf_headers(flask),
        ).status_code
        == 200
    )
    assert flask.get("/api/whoami").json()["email"] == "ada@example.com"
    assert flask.get("/account").status_code == 200
    assert flask.get("/admin", headers=JSON).status_code == 403

    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    starlette.cookies.set("doorward", flask.cookies["doorward"])
    who = starlette.get("/api/whoami")
    assert who.status_code == 200
    assert {k: who.json()[k] for k in ("email", "framework")} == {
        "email": "ada@example.com",
        "framework": "starlette",
    }
    assert "logged in as <strong>ada@example.com</strong>" in starlette.get("/").text


def test_public_and_protected_pages(apps):
    """Public pages answer everyone; protected ones send browsers to log in."""
    flask_app, starlette_app = apps
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    for http in (flask, starlette):
        assert http.get("/").status_code == 200
        assert http.get("/api/whoami", headers=JSON).status_code == 401
        assert http.get("/account").status_code in {303, 307}


def test_different_secrets_refuse_each_others_logins(tmp_path, monkeypatch, capsys):
    """Apps on one database but with different secrets do not accept each other's sessions."""
    monkeypatch.setenv("DOORWARD_DATABASE_URL", f"sqlite:///{tmp_path}/shared.sqlite3")
    monkeypatch.setenv("DOORWARD_MAIL_URL", "console://")
    monkeypatch.setenv("DOORWARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:5000")
    flask_app = create_flask_app()
    monkeypatch.setenv("DOORWARD_SECRET_KEY", "another-secret-key-0123456789-0123456789")
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:8000")
    starlette_app = create_starlette_app()
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    flask_app.extensions["doorward"].auth.create_user("ada@example.com", PASSWORD, confirmed=True)
    assert (
        flask.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers=csrf_headers(flask),
        ).status_code
        == 200
    )
    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    starlette.cookies.set("doorward", flask.cookies["doorward"])
    assert starlette.get("/api/whoami").status_code == 401


@pytest.mark.redis
def test_examples_share_rate_limits_in_redis(tmp_path, monkeypatch):
    """With DOORWARD_REDIS_URL both examples count one limit in Redis: forgot-password hits
    on Flask and on Starlette add up to the one per-address-per-hour rule."""
    import secrets as random

    import redis as redis_py

    url = "redis://127.0.0.1:6379/0"
    prefix_probe = redis_py.Redis.from_url(url)
    monkeypatch.setenv("DOORWARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("DOORWARD_DATABASE_URL", f"sqlite:///{tmp_path}/shared.sqlite3")
    monkeypatch.setenv("DOORWARD_MAIL_URL", "console://")
    monkeypatch.setenv("DOORWARD_REDIS_URL", url)
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:5000")
    flask_app = create_flask_app()
    monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:8000")
    starlette_app = create_starlette_app()
    # an address no earlier run used: Redis keeps the counts of earlier runs for an hour
    address = f"2001:db8:{random.token_hex(2)}:{random.token_hex(2)}::{random.token_hex(2)}"
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app, remote_addr=address),
        base_url="http://127.0.0.1:5000",
    )
    answers = []
    with TestClient(
        starlette_app, base_url="http://127.0.0.1:8000", client=(address, 1)
    ) as starlette:  # one event loop for the app's Redis client
        for i in range(6):
            http = flask if i % 2 == 0 else starlette
            answers.append(
                http.post(
                    "/auth/reset", json={"email": f"x{i}@example.com"}, headers=csrf_headers(http)
                ).status_code
            )
    assert answers == [202] * 5 + [429]
    assert prefix_probe.keys("doorward:rl:*")


def _console_code(capsys) -> tuple[str, str]:
    """The sign-in code and the link path of the last mail the console mailer printed."""
    out = capsys.readouterr().out
    codes = re.findall(r"\b([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{4})\b", out)
    paths = re.findall(r"http://127\.0\.0\.1:\d+(/auth/login/link/\S+)", out)
    assert codes, out
    assert paths, out
    return "".join(codes[-1]), paths[-1]


def _registered(flask, capsys, email):
    response = flask.post(
        "/auth/register", json={"email": email, "password": PASSWORD}, headers=csrf_headers(flask)
    )
    assert response.status_code == 202
    link = re.search(r"http://127\.0\.0\.1:5000(/auth/confirm/\S+)", capsys.readouterr().out)
    assert flask.post(link.group(1), headers=csrf_headers(flask)).status_code == 200


def test_code_and_link_from_flask_sign_in_on_starlette(apps, capsys):
    """Request a code on the Flask example, read it from the console mail, sign in with it
    on the Starlette example; the same with the link."""
    flask_app, starlette_app = apps
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    _registered(flask, capsys, "ada@example.com")
    asked = flask.post(
        "/auth/login/code", json={"email": "ada@example.com"}, headers=csrf_headers(flask)
    )
    assert asked.status_code == 202
    code, _ = _console_code(capsys)
    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    done = starlette.post(
        "/auth/login/code/verify",
        json={"email": "ada@example.com", "code": code},
        headers=csrf_headers(starlette),
    )
    assert done.status_code == 200, done.text
    assert starlette.get("/api/whoami").json()["email"] == "ada@example.com"

    flask.post("/auth/login/code", json={"email": "ada@example.com"}, headers=csrf_headers(flask))
    _, path = _console_code(capsys)
    other = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    assert other.get(path).status_code == 200
    assert other.post(path, headers=csrf_headers(other)).status_code == 200
    assert other.get("/api/whoami").json()["email"] == "ada@example.com"


@pytest.mark.parametrize("first", ["flask", "starlette"])
def test_refresh_token_used_twice_kills_the_family_in_the_examples(apps, capsys, first):
    """An app client signs in on one example and refreshes on the other; the refresh token
    used a second time ends the family."""
    flask_app, starlette_app = apps
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    _registered(flask, capsys, "app@example.com")
    one, other = (flask, starlette) if first == "flask" else (starlette, flask)
    tokens = one.post(
        "/auth/token",
        json={"grant_type": "password", "email": "app@example.com", "password": PASSWORD},
        headers=JSON,
    ).json()
    body = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    newest = other.post("/auth/token", json=body, headers=JSON).json()
    bearer = {"Authorization": f"Bearer {newest['access_token']}", **JSON}
    assert one.get("/api/whoami", headers=bearer).json()["email"] == "app@example.com"
    assert one.post("/auth/token", json=body, headers=JSON).status_code == 400
    assert other.get("/api/whoami", headers=bearer).status_code == 401


@pytest.mark.parametrize("framework", ["flask", "starlette"])
def test_di02_example_delivers_mail_an_earlier_process_left(tmp_path, monkeypatch, framework):
    """With an smtp:// mail URL the examples keep mail in the database's outbox; an app that
    starts delivers what an earlier (killed) process left pending, without a request."""
    from datetime import UTC, datetime

    from doorward import OutboxMessage
    from doorward.testing.smtp import SmtpServer
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
    from doorward_sqlalchemy.models import Base

    database = f"sqlite:///{tmp_path}/shared.sqlite3"
    engine = sqlite_engine(database)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    SQLAlchemyStore(engine, default_models()).enqueue_mail(
        OutboxMessage(
            id="m" + "0" * 20,
            kind="reset",
            to="left@example.com",
            subject="Left behind",
            text="a mail a killed process left in the outbox",
            created_at=now,
            next_attempt_at=now,
        )
    )
    with SmtpServer() as smtp:
        monkeypatch.setenv("DOORWARD_SECRET_KEY", SECRET)
        monkeypatch.setenv("DOORWARD_DATABASE_URL", database)
        monkeypatch.setenv("DOORWARD_MAIL_URL", f"smtp://127.0.0.1:{smtp.port}?from=a@example.com")
        if framework == "flask":
            monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:5000")
            create_flask_app()
            smtp.wait_for(1, timeout=30)
        else:
            monkeypatch.setenv("DOORWARD_BASE_URL", "http://127.0.0.1:8000")
            with TestClient(create_starlette_app()):
                smtp.wait_for(1, timeout=30)
        assert [m["To"] for m in smtp.messages] == ["left@example.com"]


def test_doorward_pages_wear_the_examples_layout(apps):
    """Settings(page_layout="layout.html"): doorward's pages render inside the app's own
    layout (its nav), with doorward's stylesheet and notices, on both adapters."""
    flask_app, starlette_app = apps
    flask = httpx.Client(
        transport=httpx.WSGITransport(app=flask_app), base_url="http://127.0.0.1:5000"
    )
    starlette = TestClient(starlette_app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    for http in (flask, starlette):
        page = http.get("/auth/login?notice=logged_out").text
        assert '<nav aria-label="Site">' in page
        assert 'href="/api/whoami"' in page
        assert "prefers-color-scheme: dark" in page
        assert "You are logged out." in page
        assert 'action="/auth/login"' in page
        home = http.get("/").text
        assert '<nav aria-label="Site">' in home
        assert "not logged in" in home
