"""One user base across Flask and Starlette, over real servers with several workers each.

Two gunicorn workers (Flask) and two uvicorn workers (Starlette) share one PostgreSQL
database; every request below goes over 127.0.0.1. The races are bounded: 50 or 60
requests, each with a 30 s timeout.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.apps import SHARED_LIMIT

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mongo]

PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30)


def headers(http: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": http.get("/auth/csrf", headers=JSON).json()["csrf_token"], **JSON}


def path_of(link: str) -> str:
    return urlsplit(link).path


def register_confirmed(cluster, email: str) -> None:
    with client(cluster.flask_url) as http:
        before = len(cluster.smtp.messages)
        assert (
            http.post(
                "/auth/register", json={"email": email, "password": PASSWORD}, headers=headers(http)
            ).status_code
            == 202
        )
        cluster.smtp.wait_for_mail(to=email, after=before)
        link = cluster.smtp.first_link(to=email)
        assert http.post(path_of(link), headers=headers(http)).status_code == 200


def login(
    base_url: str, email: str, password: str = PASSWORD, remember: bool = False
) -> httpx.Client:
    http = client(base_url)
    response = http.post(
        "/auth/login",
        json={"email": email, "password": password, "remember": remember},
        headers=headers(http),
    )
    assert response.status_code == 200, response.text
    return http


def all_at_once(count: int, action) -> list:
    """Run ``action(i)`` in ``count`` threads released together; results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = action(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_register_on_flask_log_in_on_starlette(cluster):
    """The account made and confirmed on Flask logs in on Starlette, and each app sees the other's session."""
    register_confirmed(cluster, "cross@example.com")
    on_starlette = login(cluster.starlette_url, "cross@example.com")
    assert on_starlette.get("/auth/me", headers=JSON).json()["user"]["email"] == "cross@example.com"
    on_flask = client(cluster.flask_url)
    on_flask.cookies.update(on_starlette.cookies)
    assert on_flask.get("/auth/me", headers=JSON).json()["user"]["email"] == "cross@example.com"


def test_api_token_from_flask_works_on_starlette(cluster):
    """A bearer token issued by the Flask app authenticates on the Starlette app."""
    register_confirmed(cluster, "token@example.com")
    on_flask = login(cluster.flask_url, "token@example.com")
    token = on_flask.post("/auth/tokens", json={"name": "ci"}, headers=headers(on_flask)).json()[
        "token"
    ]
    with client(cluster.starlette_url) as api:
        me = api.get("/auth/me", headers={"Authorization": f"Bearer {token}", **JSON})
    assert me.json()["user"]["email"] == "token@example.com"


def test_logout_everywhere_on_starlette_ends_flask_session(cluster):
    """Logging out everywhere on one app ends the session held on the other."""
    register_confirmed(cluster, "everywhere@example.com")
    on_flask = login(cluster.flask_url, "everywhere@example.com")
    on_starlette = login(cluster.starlette_url, "everywhere@example.com")
    assert (
        on_starlette.post("/auth/logout-everywhere", headers=headers(on_starlette)).status_code
        == 204
    )
    assert on_flask.get("/auth/me", headers=JSON).status_code == 401


def test_password_change_on_flask_kills_starlette_remember_me(cluster):
    """A password change on Flask ends the remember-me token held by a Starlette client."""
    register_confirmed(cluster, "remember@example.com")
    on_starlette = login(cluster.starlette_url, "remember@example.com", remember=True)
    remember = on_starlette.cookies.get("doorward-remember")
    assert remember
    on_flask = login(cluster.flask_url, "remember@example.com")
    changed = on_flask.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a completely new passphrase"},
        headers=headers(on_flask),
    )
    assert changed.status_code == 200
    with client(cluster.starlette_url) as device:
        device.cookies.set("doorward-remember", remember)
        assert device.get("/auth/me", headers=JSON).status_code == 401


def test_cc01_fifty_concurrent_registrations_one_account(any_cluster):
    """50 registrations of one address spread over all four workers: one account, all answers neutral."""
    email = "race-register@example.com"
    urls = [any_cluster.flask_url, any_cluster.starlette_url]

    def register(i: int) -> int:
        with client(urls[i % 2]) as http:
            return http.post(
                "/auth/register", json={"email": email, "password": PASSWORD}, headers=headers(http)
            ).status_code

    assert all_at_once(50, register) == [202] * 50
    assert any_cluster.accounts(email) == 1


def test_cc02_fifty_concurrent_uses_of_one_reset_token(any_cluster):
    """50 uses of one reset link at once over both apps: exactly one succeeds."""
    email = "race-reset@example.com"
    register_confirmed(any_cluster, email)
    with client(any_cluster.flask_url) as http:
        before = len(any_cluster.smtp.messages)
        http.post("/auth/reset", json={"email": email}, headers=headers(http))
    reset = any_cluster.smtp.wait_for_mail(to=email, after=before, kind="reset")
    link = re.search(r"https?://\S+", any_cluster.smtp.text_of(reset)).group(0)
    urls = [any_cluster.flask_url, any_cluster.starlette_url]

    def use(i: int) -> int:
        with client(urls[i % 2]) as http:
            return http.post(
                path_of(link),
                json={"password": f"new passphrase number {i}"},
                headers=headers(http),
            ).status_code

    results = all_at_once(50, use)
    assert results.count(200) == 1, results
    assert results.count(400) == 49, results


def test_cc03_sixty_wrong_passwords_counted_exactly_and_locked_everywhere(cluster):
    """60 wrong passwords over the four workers: the counter reads exactly 60 and both apps refuse the right one."""
    email = "race-lockout@example.com"
    register_confirmed(cluster, email)
    urls = [cluster.flask_url, cluster.starlette_url]

    def wrong(i: int) -> int:
        with client(urls[i % 2]) as http:
            return http.post(
                "/auth/login",
                json={"email": email, "password": "wrong password attempt"},
                headers=headers(http),
            ).status_code

    results = all_at_once(60, wrong)
    assert results == [400] * 60
    assert cluster.failed_logins(email) == 60
    for url in urls:
        with client(url) as http:
            response = http.post(
                "/auth/login", json={"email": email, "password": PASSWORD}, headers=headers(http)
            )
            assert response.status_code == 400


def test_rl05_rate_limit_shared_by_all_workers(any_cluster):
    """30 confirmation resends from one address over the four workers: the store-backed
    limiter lets exactly its limit through, not the limit once per worker."""
    urls = [any_cluster.flask_url, any_cluster.starlette_url]

    def resend(i: int) -> httpx.Response:
        with client(urls[i % 2]) as http:
            return http.post(
                "/auth/confirm", json={"email": f"resend{i}@example.com"}, headers=headers(http)
            )

    answers = all_at_once(30, resend)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == SHARED_LIMIT.limit, statuses
    assert statuses.count(429) == 30 - SHARED_LIMIT.limit, statuses
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
