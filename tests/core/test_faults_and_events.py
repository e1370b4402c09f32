"""Faults (store or mailer down) and the event log, on the sync face with the memory store."""

import logging

import pytest

from doorward import Argon2Params, Auth, MemoryStore, Settings
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.events import Events, safe_for_log
from doorward.exceptions import (
    InvalidCredentials,
    InvalidToken,
    MailerUnavailable,
    StoreUnavailable,
)

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an entirely new passphrase"


class FaultyStore:
    """A memory store whose named methods raise StoreUnavailable while `failing` lists them."""

    def __init__(self):
        self.inner = MemoryStore()
        self.failing: set[str] = set()

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def call(*args, **kwargs):
            if name in self.failing:
                raise StoreUnavailable
            return method(*args, **kwargs)

        return call


class BrokenMailer:
    """A mailer whose server is down."""

    def __init__(self):
        self.attempts = 0

    def send(self, mail):
        self.attempts += 1
        raise MailerUnavailable


def make(store=None, mailer=None):
    settings = Settings(
        secret_keys="faults-secret-key-0123456789abcdefghij",
        base_url="https://auth.example.com",
        argon2=Argon2Params.insecure_for_tests(),
    )
    return Auth(settings, store or MemoryStore(), mailer=mailer or Outbox(), clock=FrozenClock())


def reset_token(outbox):
    return outbox.messages[-1].text.split("/reset/")[1].split()[0]


def test_ft01_store_down_during_login_fails_closed():
    """A store failure during login raises StoreUnavailable and starts no session."""
    store = FaultyStore()
    auth = make(store)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    for method in ("get_user_by_email", "record_login", "create_credential"):
        store.failing = {method}
        with pytest.raises(StoreUnavailable):
            auth.login("a@example.com", PASSWORD)
    store.failing = set()
    assert (
        store.inner.list_credentials(str(auth.get_user_by_email("a@example.com").id), "session")
        == []
    )


def test_ft01_store_down_during_authenticate_is_an_error_not_a_user():
    """If the store fails while authenticating, the caller gets an error, never a user."""
    store = FaultyStore()
    auth = make(store)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("a@example.com", PASSWORD)
    store.failing = {"get_credential"}
    with pytest.raises(StoreUnavailable):
        auth.authenticate(session_token=issued.token)


def test_ft02_mailer_down_same_response_for_known_and_unknown():
    """With SMTP down, forgot-password and registration answer as usual and log the failure."""
    mailer = BrokenMailer()
    auth = make(mailer=mailer)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    assert auth.forgot_password("a@example.com") is None
    assert auth.forgot_password("nobody@example.com") is None
    assert auth.register("b@example.com", PASSWORD) is not None
    assert auth.register("a@example.com", PASSWORD) is None
    assert mailer.attempts == 3


def test_ft03_reset_failure_leaves_old_state():
    """If the reset's write fails, the old password still works and the token stays usable."""
    store = FaultyStore()
    outbox = Outbox()
    auth = make(store, outbox)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    auth.forgot_password("a@example.com")
    token = reset_token(outbox)
    store.failing = {"compare_and_set_stamp"}
    with pytest.raises(StoreUnavailable):
        auth.reset_password(token, NEW_PASSWORD)
    store.failing = set()
    auth.login("a@example.com", PASSWORD)
    auth.reset_password(token, NEW_PASSWORD)
    auth.login("a@example.com", NEW_PASSWORD)


def test_ft03_reset_is_complete_even_if_cleanup_fails():
    """The reset is one atomic update: sessions die with it even if deleting their records fails."""
    store = FaultyStore()
    outbox = Outbox()
    auth = make(store, outbox)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("a@example.com", PASSWORD)
    auth.forgot_password("a@example.com")
    token = reset_token(outbox)
    store.failing = {"delete_credentials"}
    user = auth.reset_password(token, NEW_PASSWORD)
    store.failing = set()
    assert user.failed_logins == 0
    assert auth.authenticate(session_token=issued.token) is None
    with pytest.raises(InvalidToken):
        auth.reset_password(token, "yet another passphrase here")


def test_iv05_auth_events_logged_without_secrets(caplog):
    """Login success and failure, lockout-relevant failures, reset and token revoke are logged, without secrets."""
    outbox = Outbox()
    auth = make(mailer=outbox)
    caplog.set_level(logging.INFO, logger="doorward")
    user = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("a@example.com", PASSWORD, ip="192.0.2.1")
    with pytest.raises(InvalidCredentials):
        auth.login("a@example.com", "wrong password entirely")
    auth.forgot_password("a@example.com")
    token = reset_token(outbox)
    auth.reset_password(token, NEW_PASSWORD)
    api_token, record = auth.issue_api_token(user, "ci")
    auth.revoke_api_token(user, record.id)
    text = caplog.text
    for event in (
        "login_succeeded",
        "login_failed",
        "password_reset",
        "token_issued",
        "token_revoked",
    ):
        assert f"doorward.{event}" in text
    for secret in (
        PASSWORD,
        NEW_PASSWORD,
        "wrong password entirely",
        token,
        api_token,
        issued.token,
    ):
        assert secret not in text
    assert user.password_hash not in text


def test_iv04_log_injection_escaped():
    """Values written to the log cannot start a new log line."""
    assert "\n" not in safe_for_log("evil\nINFO doorward.login_succeeded user_id=1")
    assert "\r" not in safe_for_log("a\r\nb")


def test_events_handlers_receive_fields_and_errors_are_contained():
    """A subscriber gets the event's fields; a failing subscriber does not break the flow."""
    events = Events()
    seen = []
    events.connect("login_succeeded", lambda name, **f: seen.append((name, f["user_id"])))
    events.connect("*", lambda name, **f: 1 / 0)
    events.emit("login_succeeded", user_id="7")
    assert seen == [("login_succeeded", "7")]
    with pytest.raises(ValueError):
        events.connect("no_such_event", lambda name, **f: None)


class BrokenLimiter:
    """A rate limiter whose backing store is down."""

    def hit(self, key, limit, now):
        raise StoreUnavailable

    def reset(self, key):
        raise StoreUnavailable


def test_ft04_limiter_failure_fails_closed():
    """If the rate limiter cannot count, login and forgot-password refuse instead of going unlimited."""
    auth = make()
    auth.limiter = BrokenLimiter()
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    with pytest.raises(StoreUnavailable):
        auth.login("a@example.com", PASSWORD, ip="192.0.2.1")
    with pytest.raises(StoreUnavailable):
        auth.forgot_password("a@example.com", ip="192.0.2.1")


def test_ft04_lockout_counter_failure_fails_closed():
    """If a failed attempt cannot be counted, the attempt errors; it is never silently uncounted."""
    store = FaultyStore()
    auth = make(store)
    auth.create_user("a@example.com", PASSWORD, confirmed=True)
    store.failing = {"increment_failed_logins"}
    with pytest.raises(StoreUnavailable):
        auth.login("a@example.com", "wrong password entirely")


def test_ss02_session_ids_random_and_stored_hashed():
    """A session id carries 256 random bits from `secrets`; the store holds only its SHA-256."""
    store = MemoryStore()
    auth = make(store)
    user = auth.create_user("a@example.com", PASSWORD, confirmed=True)
    tokens = {auth.login("a@example.com", PASSWORD)[1].token for _ in range(20)}
    assert len(tokens) == 20
    stored = store.list_credentials(str(user.id), "session")
    hashes = {c.secret_hash for c in stored}
    for token in tokens:
        raw = token.rsplit(".", 1)[0]
        assert len(raw) >= 43
        assert raw not in hashes
        assert all(raw not in h for h in hashes)
    assert all(len(h) == 64 for h in hashes)
