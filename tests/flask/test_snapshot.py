"""The optional session snapshot (``Settings.session_snapshot_seconds``) on Flask: the store
is skipped for up to N seconds; logout on the device is immediate; logout everywhere and a
role change take effect within N seconds; never another user's, never without the session
cookie, never for bearer tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from flask import Flask, jsonify

from doorward import Argon2Params, MemoryStore, Role, Settings
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.exceptions import ConfigurationError
from doorward_flask import (
    Doorward,
    current_identity,
    current_user,
    fresh_login_required,
    login_required,
    roles_required,
)

SECRET = "flask-snapshot-secret-key-0123456789abcd"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}
SNAPSHOT = "__Host-doorward-snapshot"
N = 30


def make_app(seconds=N):
    app = Flask(__name__)
    store = MemoryStore()
    Doorward(
        app,
        store=store,
        settings=Settings(
            secret_keys=SECRET,
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            session_snapshot_seconds=seconds,
        ),
        mailer=Outbox(),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )

    @app.get("/guarded")
    @login_required
    def guarded():
        identity = current_identity()
        return jsonify(user_id=identity.user_id, via=identity.via, snapshot=identity.snapshot)

    @app.get("/me")
    @login_required
    def me():
        return jsonify(email=current_user.email if current_user else None)

    @app.get("/admin")
    @roles_required("admin")
    def admin():
        return "admin"

    @app.get("/sensitive")
    @fresh_login_required
    def sensitive():
        return "fresh"

    lookups = []
    for name in ("get_credential", "get_credential_with_roles"):
        method = getattr(store, name)

        def counted(*args, _method=method, _name=name):
            lookups.append(_name)
            return _method(*args)

        setattr(store, name, counted)
    return app, app.extensions["doorward"].auth, lookups


def client(app):
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver")


def login(http, email):
    token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    answer = http.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token, **JSON},
    )
    assert answer.status_code == 200, answer.text
    return token


def snapshot_header(response):
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(SNAPSHOT + "=")]
    return found[0] if found else None


def test_off_by_default_and_bounded():
    """No snapshot cookie unless asked for; the setting is 0..300 seconds."""
    app, auth, lookups = make_app(seconds=0)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http, "a@example.com")
    for _ in range(3):
        answer = http.get("/guarded")
        assert answer.status_code == 200
        assert snapshot_header(answer) is None
    assert len(lookups) == 3
    for bad in (-1, 301):
        with pytest.raises(ConfigurationError, match="session_snapshot_seconds"):
            Settings(
                secret_keys=SECRET, base_url="https://a.example.com", session_snapshot_seconds=bad
            )


def test_skips_the_store_for_n_seconds_then_reads_it_again():
    """One lookup makes the snapshot (Max-Age N); the next requests skip the store until it
    expires; ``current_user`` still gives the application's user (read from the store)."""
    app, auth, lookups = make_app()
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http, "a@example.com")
    first = http.get("/guarded")
    assert first.json()["snapshot"] is False
    made = snapshot_header(first)
    assert made is not None
    assert f"Max-Age={N}" in made
    assert "HttpOnly" in made
    assert "Secure" in made
    del lookups[:]
    for _ in range(5):
        answer = http.get("/guarded")
        assert answer.json()["snapshot"] is True
        assert snapshot_header(answer) is None
    assert lookups == []
    assert http.get("/me").json() == {"email": "a@example.com"}
    assert len(lookups) == 1
    auth.clock.advance(N)
    del lookups[:]
    again = http.get("/guarded")
    assert again.json()["snapshot"] is False
    assert snapshot_header(again) is not None
    assert len(lookups) == 1


def test_logout_on_this_device_is_immediate():
    """Logout clears the snapshot with the session cookie; replaying the pair within N
    seconds is the documented delay, replaying the snapshot alone never works."""
    app, auth, _ = make_app()
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http, "a@example.com")
    csrf = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]  # rotated at login
    http.get("/guarded")
    snapshot = http.cookies.get(SNAPSHOT)
    assert snapshot is not None
    out = http.post("/auth/logout", headers={"X-CSRF-Token": csrf, **JSON})
    assert out.status_code in {200, 204}
    assert snapshot_header(out) is not None
    assert "Max-Age=0" in snapshot_header(out)
    assert http.get("/guarded", headers=JSON).status_code == 401
    # the snapshot cookie alone (no session cookie) identifies nobody, and is cleared
    refused = client(app).get("/guarded", headers={"Cookie": f"{SNAPSHOT}={snapshot}", **JSON})
    assert refused.status_code == 401
    assert "Max-Age=0" in snapshot_header(refused)


def test_logout_everywhere_and_role_changes_take_effect_within_n_seconds():
    """Another device's logout-everywhere and a role change reach a snapshotted session at
    the latest N seconds later; ``current_user`` reads the store at once."""
    app, auth, _ = make_app()
    user = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    auth.store.save_role(Role(name="admin"))
    http = client(app)
    login(http, "a@example.com")
    assert http.get("/admin", headers=JSON).status_code == 403  # snapshot made: no admin
    auth.add_role(user, "admin")
    assert http.get("/admin", headers=JSON).status_code == 403
    auth.clock.advance(N)
    assert http.get("/admin").status_code == 200  # a new snapshot, with the role
    auth.logout_everywhere(auth.get_user_by_email("a@example.com"))
    assert http.get("/guarded").status_code == 200  # within N seconds: the snapshot
    assert http.get("/me").json() == {"email": None}  # the store: the session is gone
    auth.clock.advance(N - 1)
    assert http.get("/guarded").status_code == 200
    auth.clock.advance(1)
    assert http.get("/guarded", headers=JSON).status_code == 401


def test_never_another_users_session_and_never_for_bearer_tokens():
    """A snapshot works only with the session cookie it was made for; bearer requests
    ignore snapshots and never get one."""
    app, auth, lookups = make_app()
    alice = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    bob = auth.create_user("b@example.com", PASSWORD, confirmed=True)
    a, b = client(app), client(app)
    login(a, "a@example.com")
    login(b, "b@example.com")
    a.get("/guarded")
    b.get("/guarded")
    session_a, session_b = a.cookies.get("__Host-doorward"), b.cookies.get("__Host-doorward")
    snapshot_a, snapshot_b = a.cookies.get(SNAPSHOT), b.cookies.get(SNAPSHOT)
    assert snapshot_a
    assert snapshot_b

    def sent(session, snapshot):
        return {"Cookie": f"__Host-doorward={session}; {SNAPSHOT}={snapshot}"}

    assert client(app).get("/guarded", headers=sent(session_a, snapshot_a)).json()["snapshot"]
    answer = client(app).get("/guarded", headers=sent(session_b, snapshot_a))
    assert answer.json() == {"user_id": str(bob.id), "via": "session", "snapshot": False}
    # a tampered snapshot is not one of ours either
    tampered = snapshot_a[:-2] + ("AA" if not snapshot_a.endswith("AA") else "BB")
    answer = client(app).get("/guarded", headers=sent(session_a, tampered))
    assert answer.json()["snapshot"] is False
    token, _ = auth.issue_api_token(alice, "ci")
    del lookups[:]
    for _ in range(2):
        headers = {"Authorization": f"Bearer {token}", **sent(session_b, snapshot_b)}
        answer = client(app).get("/guarded", headers=headers)
        assert answer.json() == {"user_id": str(alice.id), "via": "api", "snapshot": False}
        assert snapshot_header(answer) is None
    assert len(lookups) == 2


def test_never_outlives_the_session():
    """A snapshot made near the session's end (here its inactivity timeout) lives only
    until that end, shorter than N."""
    app, auth, _ = make_app(seconds=300)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http, "a@example.com")
    auth.clock.advance(auth.settings.session_idle_timeout.total_seconds() - 100)
    answer = http.get("/guarded")
    assert answer.status_code == 200
    assert "Max-Age=100;" in snapshot_header(answer) + ";"


def test_changes_through_the_auth_routes_drop_the_snapshot():
    """A re-authentication (any POST to the auth routes) clears the snapshot the request
    carried, so the next request sees the fresh session at once."""
    app, auth, _ = make_app()
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    http = client(app)
    login(http, "a@example.com")
    auth.clock.advance(auth.settings.fresh_window.total_seconds() + 60)
    assert http.get("/sensitive", headers=JSON).json()["error"]["code"] == "reauth_required"
    assert http.cookies.get(SNAPSHOT) is not None
    csrf = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    again = http.post(
        "/auth/reauth", json={"password": PASSWORD}, headers={"X-CSRF-Token": csrf, **JSON}
    )
    assert again.status_code == 200, again.text
    assert "Max-Age=0" in snapshot_header(again)
    assert http.get("/sensitive").text == "fresh"
