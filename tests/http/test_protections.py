"""Tests that fail when their protection is removed (issue 16 item 7: a reviewer removed
each protection below in turn and the tests named after its row still passed). On both
adapters and every store variant of the contract suite."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from doorward.settings import RateLimit
from tests.http.test_contract import (
    EMAIL,
    JSON_HEADERS,
    PASSWORD,
    PREFIX,
    SESSION,
    csrf_token,
    link_path,
    login,
    post,
)


def test_le05_a_second_login_ends_the_session_the_browser_had(site):
    """Logging in again from one browser (no logout between) kills its previous session."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    first = site.client.cookies.get(SESSION)
    login(site)
    assert site.client.cookies.get(SESSION) != first
    replay = site.new_client()
    replay.headers["Cookie"] = f"{SESSION}={first}"
    assert replay.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401
    current = site.new_client()
    current.headers["Cookie"] = f"{SESSION}={site.client.cookies.get(SESSION)}"
    assert current.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


def test_rl03_a_successful_login_keeps_the_per_ip_login_limit(site_factory):
    """The per-IP login limit counts successes too and is not reset by one (RL-03)."""
    site = site_factory(rate_limits={"login": RateLimit(3, timedelta(hours=1))})
    site.create_user(EMAIL, PASSWORD)
    answers = []
    for password in ("a wrong password of length", PASSWORD, "another wrong password!!"):
        answers.append(
            post(site.client, "/login", {"email": EMAIL, "password": password}).status_code
        )
    assert answers == [400, 200, 400]
    limited = post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
    assert limited.status_code == 429


@pytest.mark.parametrize(
    "forged",
    ["", "x", "not.a.token", "A" * 43, "A" * 42 + "=", "a b", "%C3%A9" * 10, "A" * 5000],
)
def test_tk05_forged_session_and_api_tokens_never_reach_the_store(site, forged):
    """A malformed session cookie or bearer token is anonymous and costs no store lookup."""
    auth = site.extras["auth"]
    store = auth.store
    calls = []
    inner = store.get_credential

    def counting(*args, **kwargs):
        calls.append(args)
        return inner(*args, **kwargs)

    store.__dict__["get_credential"] = counting
    try:
        client = site.new_client()
        cookie = {"Cookie": f"{SESSION}={forged}"} if forged else {}
        assert client.get(f"{PREFIX}/me", headers={**cookie, **JSON_HEADERS}).status_code == 401
        bearer = {"Authorization": f"Bearer {forged or 'x'}", **JSON_HEADERS}
        assert client.get(f"{PREFIX}/me", headers=bearer).status_code == 401
    finally:
        del store.__dict__["get_credential"]
    assert calls == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/login", {"email": EMAIL, "password": PASSWORD}),
        ("/register", {"email": "new@example.com", "password": PASSWORD}),
        ("/reset", {"email": EMAIL}),
        ("/confirm", {"email": EMAIL}),
    ],
)
def test_cr01_anonymous_posts_without_a_csrf_token_are_refused(site, path, body):
    """Nobody is logged in: a POST without the CSRF token (or with a wrong one) is 403 and
    does nothing (login CSRF, CR-01)."""
    site.create_user(EMAIL, PASSWORD)
    client = site.new_client()
    for headers in (JSON_HEADERS, {"X-CSRF-Token": "forged", **JSON_HEADERS}):
        answer = client.post(f"{PREFIX}{path}", json=body, headers=headers)
        assert answer.status_code == 403, (path, answer.text)
    assert client.cookies.get(SESSION) is None
    assert site.get_user("new@example.com") is None
    assert [m for m in site.mails() if m.to == EMAIL] == []


def test_cr02_get_of_a_confirmation_link_changes_nothing(site):
    """Visiting GET /confirm/{token} (as a mail scanner does) leaves the address unconfirmed."""
    answer = post(site.client, "/register", {"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 202
    path = link_path(site, EMAIL, "confirm")
    for headers in ({}, JSON_HEADERS):
        page = site.new_client().get(path, headers=headers)
        assert page.status_code == 200
        assert f"{SESSION}=" not in page.headers.get("set-cookie", "")
    assert site.get_user(EMAIL).confirmed_at is None
    token = re.sub(r"^.*/confirm/", "", path)
    confirmed = site.client.post(
        f"{PREFIX}/confirm/{token}",
        headers={"X-CSRF-Token": csrf_token(site.client), **JSON_HEADERS},
    )
    assert confirmed.status_code == 200
    assert site.get_user(EMAIL).confirmed_at is not None
