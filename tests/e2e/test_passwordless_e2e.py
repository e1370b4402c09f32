"""Email codes, sign-in links and app clients' refresh tokens across the two apps, over real
servers (gunicorn and uvicorn, two workers each) on PostgreSQL and on Mongo, the code read
out of the mail the real SMTP server received."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_many_workers import (
    JSON,
    PASSWORD,
    all_at_once,
    client,
    headers,
    path_of,
    register_confirmed,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mongo]

CODE = re.compile(r"\b([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{4})\b")


def mailed_code(cluster, email: str, base_url: str) -> tuple[str, str]:
    """Ask ``base_url`` for a code; the code and the link of the mail the SMTP server got."""
    with client(base_url) as http:
        before = len(cluster.smtp.messages)
        asked = http.post("/auth/login/code", json={"email": email}, headers=headers(http))
        assert asked.status_code == 202, asked.text
    mail = cluster.smtp.wait_for_mail(to=email, after=before)
    text = cluster.smtp.text_of(mail)
    found = CODE.search(text)
    assert found, text
    link = re.search(r"https?://\S+/auth/login/link/\S+", text)
    assert link, text
    return found.group(1) + found.group(2), path_of(link.group(0))


def test_code_asked_on_flask_signs_in_on_starlette(any_cluster):
    """Request a code on Flask, read it from the SMTP mail, sign in with it on Starlette."""
    email = f"code-{any_cluster.database is not None}@example.com"
    register_confirmed(any_cluster, email)
    code, _ = mailed_code(any_cluster, email, any_cluster.flask_url)
    with client(any_cluster.starlette_url) as http:
        done = http.post(
            "/auth/login/code/verify", json={"email": email, "code": code}, headers=headers(http)
        )
        assert done.status_code == 200, done.text
        assert http.get("/auth/me", headers=JSON).json()["user"]["email"] == email
    with client(any_cluster.flask_url) as again:
        reused = again.post(
            "/auth/login/code/verify", json={"email": email, "code": code}, headers=headers(again)
        )
        assert reused.status_code == 400


def test_link_from_flask_mail_signs_in_on_starlette_once(any_cluster):
    """The link of a mail sent by Flask: GET on Starlette changes nothing, POST signs in once."""
    email = f"link-{any_cluster.database is not None}@example.com"
    register_confirmed(any_cluster, email)
    _, path = mailed_code(any_cluster, email, any_cluster.flask_url)
    with client(any_cluster.starlette_url) as http:
        assert http.get(path).status_code == 200
        assert http.get("/auth/me", headers=JSON).status_code == 401
        done = http.post(path, headers=headers(http))
        assert done.status_code == 200, done.text
        assert http.get("/auth/me", headers=JSON).status_code == 200
    with client(any_cluster.flask_url) as again:
        assert again.post(path, headers=headers(again)).status_code == 400


def test_parallel_uses_of_one_code_one_session(any_cluster):
    """Ten parallel uses of one code across both apps' workers: exactly one session."""
    email = f"race-{any_cluster.database is not None}@example.com"
    register_confirmed(any_cluster, email)
    code, _ = mailed_code(any_cluster, email, any_cluster.starlette_url)
    clients = [
        client(any_cluster.flask_url if i % 2 else any_cluster.starlette_url) for i in range(10)
    ]
    prepared = [headers(http) for http in clients]

    def use(i: int) -> int:
        return (
            clients[i]
            .post(
                "/auth/login/code/verify", json={"email": email, "code": code}, headers=prepared[i]
            )
            .status_code
        )

    statuses = all_at_once(10, use)
    for http in clients:
        http.close()
    assert sorted(statuses) == [200] + [400] * 9, statuses


@pytest.mark.parametrize("first", ["flask", "starlette"])
def test_refresh_token_used_twice_kills_the_family(any_cluster, first):
    """Tokens from one app refresh on the other; a refresh token used twice ends the family
    (its newest refresh token and access token too), on both adapters."""
    email = f"app-{first}-{any_cluster.database is not None}@example.com"
    register_confirmed(any_cluster, email)
    one, other = (
        (any_cluster.flask_url, any_cluster.starlette_url)
        if first == "flask"
        else (any_cluster.starlette_url, any_cluster.flask_url)
    )
    with client(one) as app:
        signed = app.post(
            "/auth/token",
            json={"grant_type": "password", "email": email, "password": PASSWORD},
            headers=JSON,
        )
        assert signed.status_code == 200, signed.text
        tokens = signed.json()
    with client(other) as app:
        rotated = app.post(
            "/auth/token",
            json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=JSON,
        )
        assert rotated.status_code == 200, rotated.text
        newest = rotated.json()
        bearer = {"Authorization": f"Bearer {newest['access_token']}", **JSON}
        assert app.get("/auth/me", headers=bearer).status_code == 200
    with client(one) as app:
        reused = app.post(
            "/auth/token",
            json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=JSON,
        )
        assert reused.status_code == 400
        dead = app.post(
            "/auth/token",
            json={"grant_type": "refresh_token", "refresh_token": newest["refresh_token"]},
            headers=JSON,
        )
        assert dead.status_code == 400
        assert app.get("/auth/me", headers=bearer).status_code == 401


def test_parallel_refreshes_of_one_token_one_wins(any_cluster):
    """Eight parallel refreshes of one token across the workers: exactly one gets tokens."""
    email = f"app-race-{any_cluster.database is not None}@example.com"
    register_confirmed(any_cluster, email)
    with client(any_cluster.flask_url) as app:
        tokens = app.post(
            "/auth/token",
            json={"grant_type": "password", "email": email, "password": PASSWORD},
            headers=JSON,
        ).json()
    clients = [
        client(any_cluster.flask_url if i % 2 else any_cluster.starlette_url) for i in range(8)
    ]

    def refresh(i: int) -> int:
        return (
            clients[i]
            .post(
                "/auth/token",
                json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                headers=JSON,
            )
            .status_code
        )

    statuses = all_at_once(8, refresh)
    for http in clients:
        http.close()
    assert sorted(statuses) == [200] + [400] * 7, statuses
