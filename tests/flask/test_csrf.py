"""CSRF protection of the app's own Flask views (CR-01): ``csrf_protect``, the app-wide
``csrf_protect_app`` setting, ``csrf_exempt`` and the ``csrf_token()`` template global."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from flask import Flask, render_template_string
from jinja2 import DictLoader

from doorward import Argon2Params, MemoryStore, Settings
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward_flask import Doorward, csrf_exempt, csrf_protect, csrf_token, current_user

SECRET = "flask-tests-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}
#: What the decorated, protected and exempt views did (a refused request adds nothing).
Effects = list[str]


def make_app(effects: Effects, **overrides: object) -> Flask:
    app = Flask(__name__)
    Doorward(
        app,
        store=MemoryStore(),
        settings=Settings(
            secret_keys=SECRET,
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            **overrides,
        ),
        mailer=Outbox(),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )

    @app.route("/notes", methods=["GET", "POST", "DELETE"])
    @csrf_protect
    def notes():
        effects.append(f"notes {current_user.email if current_user else 'anonymous'}")
        return {"notes": len(effects)}

    @app.post("/plain")
    def plain():
        effects.append("plain")
        return {"ok": True}

    @app.post("/webhook")
    @csrf_exempt
    def webhook():
        effects.append("webhook")
        return {"ok": True}

    @app.get("/form")
    def form():
        return render_template_string(
            '<form method="post"><input name="csrf_token" value="{{ csrf_token() }}"></form>'
        )

    return app


def client(app: Flask) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")


def token_of(http: httpx.Client) -> str:
    token: str = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    return token


def login(app: Flask, http: httpx.Client) -> None:
    app.extensions["doorward"].auth.create_user("a@example.com", PASSWORD, confirmed=True)
    answer = http.post(
        "/auth/login",
        json={"email": "a@example.com", "password": PASSWORD},
        headers={"X-CSRF-Token": token_of(http), **JSON},
    )
    assert answer.status_code == 200


@pytest.fixture
def effects() -> Effects:
    return []


def test_cr01_app_route_refuses_a_form_post_without_token(effects: Effects) -> None:
    """A logged-in browser's form POST without the token: the error page, 403, and the
    view never ran; with the token's form field it runs."""
    app = make_app(effects)
    http = client(app)
    login(app, http)
    refused = http.post("/notes", data={"text": "x"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert effects == []
    token = token_of(http)
    assert http.post("/notes", data={"text": "x", "csrf_token": token}).status_code == 200
    assert effects == ["notes a@example.com"]


def test_cr01_app_route_refuses_a_json_post_without_token(effects: Effects) -> None:
    """A JSON POST without the header: the contract's 403 ``csrf_failed`` body, no effect;
    a wrong token is refused too; the header's token lets it in."""
    app = make_app(effects)
    http = client(app)
    login(app, http)
    refused = http.post("/notes", json={"text": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert http.post("/notes", json={}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert http.delete("/notes", headers=JSON).status_code == 403
    assert effects == []
    answer = http.post("/notes", json={"text": "x"}, headers={"X-CSRF-Token": token_of(http)})
    assert answer.status_code == 200
    assert effects == ["notes a@example.com"]


def test_cr01_app_route_needs_the_token_when_logged_out(effects: Effects) -> None:
    """Anonymous requests need the token as well (login CSRF and the like)."""
    http = client(make_app(effects))
    assert http.post("/notes", json={}).status_code == 403
    assert effects == []
    assert http.post("/notes", json={}, headers={"X-CSRF-Token": token_of(http)}).status_code == 200
    assert effects == ["notes anonymous"]


def test_cr01_app_route_exempts_bearer_tokens_and_safe_methods(effects: Effects) -> None:
    """A request authenticated by an API token needs no CSRF token, nor does a GET; an
    invalid bearer token is no exemption."""
    app = make_app(effects)
    auth = app.extensions["doorward"].auth
    user = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    api_token, _ = auth.issue_api_token(user, "script")
    http = client(app)
    answer = http.post("/notes", json={}, headers={"Authorization": f"Bearer {api_token}"})
    assert answer.status_code == 200
    assert http.post("/notes", json={}, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert http.get("/notes").status_code == 200
    assert effects == ["notes a@example.com", "notes anonymous"]


def test_cr01_app_routes_are_left_alone_by_default(effects: Effects) -> None:
    """Without ``csrf_protect_app`` only decorated views are checked (existing apps keep
    working)."""
    http = client(make_app(effects))
    assert http.post("/plain", json={}).status_code == 200
    assert effects == ["plain"]


def test_cr01_app_wide_protection_and_csrf_exempt(effects: Effects) -> None:
    """With ``csrf_protect_app`` every unsafe request to the app's views needs the token
    (form field or header); ``csrf_exempt`` views, unknown paths and the auth routes'
    own check are left alone."""
    app = make_app(effects, csrf_protect_app=True)
    http = client(app)
    assert http.post("/plain", json={}).status_code == 403
    assert http.post("/plain", data={"csrf_token": "forged"}).status_code == 403
    assert effects == []
    token = token_of(http)
    assert http.post("/plain", data={"csrf_token": token}).status_code == 200
    assert http.post("/plain", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    assert http.post("/webhook", json={"event": "paid"}).status_code == 200
    assert http.post("/nowhere", json={}).status_code == 404
    assert http.put("/plain", json={}).status_code == 405
    assert http.post("/auth/logout", json={}).json()["error"]["code"] == "csrf_failed"
    assert effects == ["plain", "plain", "webhook"]


def test_cr01_csrf_token_template_global_sets_its_cookie(effects: Effects) -> None:
    """``{{ csrf_token() }}`` in the app's template gives a token whose cookie the same
    response sets, and that token is accepted; ``csrf_token()`` gives the same in code."""
    app = make_app(effects, csrf_protect_app=True)
    http = client(app)
    page = http.get("/form")
    assert "__Host-doorward-csrf=" in page.headers["set-cookie"]
    token = re.search(r'value="([^"]+)"', page.text).group(1)
    assert http.post("/plain", data={"csrf_token": token}).status_code == 200
    with app.test_request_context("/"):
        assert csrf_token() == csrf_token()


def test_cr01_one_layout_calls_csrf_token_on_app_and_doorward_pages(effects: Effects) -> None:
    """A ``page_layout`` that calls ``{{ csrf_token() }}`` (a logout form in the app's
    navigation) renders on doorward's pages, where the token is also a plain string, and
    gives the token of the page's own form."""
    app = make_app(effects, page_layout="mine.html")
    app.jinja_loader = DictLoader(
        {
            "mine.html": '<nav><input id="nav" value="{{ csrf_token() }}"></nav>'
            '{% include "doorward/_messages.html" %}<title>{% block title %}{% endblock %}'
            "</title>{% block content %}{% endblock %}{% block scripts %}{% endblock %}"
        }
    )
    http = client(app)
    page = http.get("/auth/login")
    assert page.status_code == 200
    nav = re.search(r'id="nav" value="([^"]+)"', page.text).group(1)
    form = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert nav == form
