"""Sign in without a password and app clients' tokens (DESIGN §9: ``/login/code…``,
``/login/link/…``, ``/token…``) on every adapter and store, JSON and pages.

PL-01 (codes), PL-02 (links), PL-03 (refresh tokens) and MF-08 (neither skips the second
factor) are named after their SECURITY.md rows.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from urllib.parse import urlsplit

import pytest

from doorward.exceptions import ConfigurationError
from tests.http.test_contract import (
    EMAIL,
    JSON_HEADERS,
    PASSWORD,
    PREFIX,
    SESSION,
    csrf_token,
    error_code,
    form_post,
    login,
    post,
)
from tests.http.test_mfa_contract import code as totp_code
from tests.http.test_mfa_contract import enrol

CODE = re.compile(r"\b([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{4})\b")
OTHER = "bob@example.com"


@pytest.fixture
def pl_site(site_factory):
    return site_factory(sign_in_by_email=True, app_clients=True)


def mailed(site, to=EMAIL):
    mails = [m for m in site.mails() if m.to == to and m.kind == "sign_in_code"]
    assert mails, f"no sign-in mail to {to}"
    mail = mails[-1]
    found = CODE.search(mail.text)
    assert found, mail.text
    link = re.search(r"https?://\S+", mail.text)
    assert link, mail.text
    return found.group(1) + found.group(2), urlsplit(link.group(0)).path


def request_code(site, client=None, email=EMAIL):
    response = post(client or site.client, "/login/code", {"email": email})
    assert response.status_code == 202, response.text
    return response


def verify(client, code, email=EMAIL):
    return post(client, "/login/code/verify", {"email": email, "code": code})


def signed_in(client) -> bool:
    return client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


# -- email codes (PL-01) -----------------------------------------------------------------------


def test_pl01_code_signs_in_once(pl_site):
    """The mailed code (8 symbols of the unambiguous alphabet, shown XXXX-XXXX) signs in
    once, with a session cookie; the same code again is refused."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    code, _ = mailed(site)
    assert len(code) == 8
    client = site.new_client()
    answer = verify(client, f"{code[:4]}-{code[4:]}".lower())
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["email"] == EMAIL
    assert SESSION in answer.headers.get("set-cookie", "")
    assert signed_in(client)
    again = verify(site.new_client(), code)
    assert again.status_code == 400
    assert error_code(again) == "invalid_credentials"
    # it speaks of the code, not of a password the person never typed
    assert again.json()["error"]["message"] == (
        "The email or code is not correct, or the code has expired."
    )


def test_pl01_unknown_address_gets_the_same_202(pl_site):
    """An address without an account gets the same answer and no mail is delivered."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    known = request_code(site)
    unknown = request_code(site, email="nobody@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert not [m for m in site.mails() if m.to == "nobody@example.com"]


def test_pl01_three_wrong_codes_kill_the_code(pl_site):
    """3 wrong codes, then the right one → refused; a new request sends a new code."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    code, _ = mailed(site)
    client = site.new_client()
    wrong = "ABCD2345" if code != "ABCD2345" else "ABCD2346"
    for _ in range(3):
        assert verify(client, wrong).status_code == 400
    assert verify(client, code).status_code == 400
    assert not signed_in(client)
    request_code(site)
    fresh, _ = mailed(site)
    assert verify(client, fresh).status_code == 200


def test_pl01_code_expires_after_five_minutes(pl_site):
    """A code older than 5 minutes is refused."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    code, _ = mailed(site)
    site.clock.advance(5 * 60 + 1)
    assert verify(site.new_client(), code).status_code == 400


def test_pl01_a_new_code_replaces_the_old(pl_site):
    """Every request sends a new mail; only the newest code works."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    first, _ = mailed(site)
    request_code(site)
    second, _ = mailed(site)
    assert len([m for m in site.mails() if m.kind == "sign_in_code"]) == 2
    client = site.new_client()
    if first != second:
        assert verify(client, first).status_code == 400
    assert verify(client, second).status_code == 200


def test_pl01_code_confirms_an_unconfirmed_address(pl_site):
    """The mail proved the address: an unconfirmed account is confirmed and signed in."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD, confirmed=False)
    confirmed: list[str] = []
    site.extras["auth"].events.connect(
        "email_confirmed", lambda _name, **fields: confirmed.append(fields["user_id"])
    )
    request_code(site)
    code, _ = mailed(site)
    assert verify(site.new_client(), code).status_code == 200
    user = site.get_user(EMAIL)
    assert user.confirmed_at is not None
    assert confirmed == [str(user.id)]  # the same event as a confirmation link's


def test_pl01_inactive_account_gets_no_code(pl_site):
    """A deactivated account is treated as unknown: same 202, no mail."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD, active=False)
    request_code(site)
    assert not [m for m in site.mails() if m.kind == "sign_in_code"]


def test_pl01_malformed_input_is_a_clear_4xx(pl_site):
    """Missing or malformed fields get a 4xx with the contract's error body."""
    site = pl_site
    for body in ({}, {"email": "not an address"}, {"email": ["x"]}):
        answer = post(site.client, "/login/code", body)
        assert 400 <= answer.status_code < 500, answer.text
        assert "error" in answer.json()
    for body in ({"email": EMAIL}, {"email": EMAIL, "code": 12345678}, {"code": "ABCD2345"}):
        answer = post(site.client, "/login/code/verify", body)
        assert 400 <= answer.status_code < 500, answer.text
        assert "error" in answer.json()


def test_pl01_two_parallel_uses_of_one_code_one_wins(pl_site):
    """Two clients submitting the same code at once: exactly one session."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    code, _ = mailed(site)
    clients = [site.new_client() for _ in range(2)]
    tokens = [csrf_token(client) for client in clients]
    barrier = Barrier(2)

    def submit(i):
        barrier.wait()
        return clients[i].post(
            f"{PREFIX}/login/code/verify",
            json={"email": EMAIL, "code": code},
            headers={"X-CSRF-Token": tokens[i], **JSON_HEADERS},
        )

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(submit, range(2)))
    assert statuses == [200, 400]


# -- magic links (PL-02) -----------------------------------------------------------------------


def test_pl02_get_changes_nothing_post_signs_in_once(pl_site):
    """GET the link twice (a mail scanner, then the person), then POST → one session;
    the page holds one POST form to the same URL with a csrf_token field."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    _, path = mailed(site)
    client = site.new_client()
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        assert re.search(rf'<form method="post" action="{re.escape(path)}"', page.text)
        assert 'name="csrf_token"' in page.text
    assert not signed_in(client)
    html = client.get(path).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = client.post(path, data={"csrf_token": token})
    assert answer.status_code < 400, answer.text
    assert SESSION in answer.headers.get("set-cookie", "")
    assert signed_in(client)
    other = site.new_client()
    assert post(other, path.removeprefix(PREFIX)).status_code == 400
    assert not signed_in(other)


def test_pl02_link_refused_after_a_password_change(pl_site):
    """The link is bound to the account's stamp: a password change kills it."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    _, path = mailed(site)
    login(site)
    changed = post(
        site.client,
        "/change-password",
        {"current_password": PASSWORD, "new_password": "another long passphrase here"},
    )
    assert changed.status_code in {200, 204}, changed.text
    client = site.new_client()
    assert post(client, path.removeprefix(PREFIX)).status_code == 400
    assert not signed_in(client)


def test_pl02_link_expires_after_fifteen_minutes(pl_site):
    """The link works for 15 minutes (longer than the code), not after."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    _, path = mailed(site)
    site.clock.advance(10 * 60)
    assert post(site.new_client(), path.removeprefix(PREFIX)).status_code == 200
    request_code(site)
    _, later = mailed(site)
    site.clock.advance(15 * 60 + 1)
    assert post(site.new_client(), later.removeprefix(PREFIX)).status_code == 400


def test_pl02_link_and_code_are_one_use(pl_site):
    """Using the link uses the code of the same mail up, and the other way round."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    code, path = mailed(site)
    assert post(site.new_client(), path.removeprefix(PREFIX)).status_code == 200
    assert verify(site.new_client(), code).status_code == 400


def test_pl02_tampered_link_refused(pl_site):
    """Any change to the link's token is refused (TK-05), with a way to a new code."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    _, path = mailed(site)
    for bad in (path + "=", path[:-1], path + "A"):
        assert post(site.new_client(), bad.removeprefix(PREFIX)).status_code in {400, 404}
    page = site.client.post(bad, data={"csrf_token": "x"})
    assert page.status_code in {400, 403, 404}


# -- the second factor still holds (MF-08) ---------------------------------------------------


@pytest.fixture
def mfa_pl_site(pl_site):
    if not pl_site.extras["auth"].enabled("mfa"):
        pytest.skip("this store has no Authenticators capability")
    return pl_site


def test_mf08_email_code_sign_in_asks_the_second_factor(mfa_pl_site):
    """Email-code sign-in of an MFA account → mfa_required, no session; the code of the
    authenticator then completes it."""
    site = mfa_pl_site
    secret, _ = enrol(site)
    request_code(site)
    code, _ = mailed(site)
    client = site.new_client()
    answer = verify(client, code)
    assert answer.status_code == 200
    assert answer.json() == {"mfa_required": True, "methods": ["totp", "recovery"]}
    assert not signed_in(client)
    done = post(client, "/login/mfa", {"code": totp_code(site, secret)})
    assert done.status_code == 200, done.text
    assert signed_in(client)


def test_mf08_magic_link_sign_in_asks_the_second_factor(mfa_pl_site):
    """A magic link of an MFA account leads to the second step, not a session."""
    site = mfa_pl_site
    enrol(site)
    request_code(site)
    _, path = mailed(site)
    client = site.new_client()
    answer = post(client, path.removeprefix(PREFIX))
    assert answer.json()["mfa_required"] is True
    assert not signed_in(client)


def test_mf08_app_password_grant_asks_the_second_factor(mfa_pl_site):
    """POST /token of an MFA account → mfa_required with an mfa_token; grant_type=mfa with
    the TOTP code → tokens; a wrong code → refused."""
    site = mfa_pl_site
    secret, _ = enrol(site)
    app = site.new_client()
    first = token(app, grant_type="password", email=EMAIL, password=PASSWORD)
    assert first.status_code == 200
    body = first.json()
    assert body["mfa_required"] is True
    assert "access_token" not in body
    assert (
        token(app, grant_type="mfa", mfa_token=body["mfa_token"], code="000000").status_code == 400
    )
    site.clock.advance(30)
    done = token(app, grant_type="mfa", mfa_token=body["mfa_token"], code=totp_code(site, secret))
    assert done.status_code == 200, done.text
    assert bearer_me(app, done.json()["access_token"]).status_code == 200


# -- pages -------------------------------------------------------------------------------------


def test_code_sign_in_with_forms(pl_site):
    """Login page → "Email me a sign-in code" → the code form → signed in, by forms."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client = site.client
    assert "/login/code" in client.get(f"{PREFIX}/login").text
    sent = form_post(client, "/login/code", {"email": EMAIL}, "/login/code")
    assert sent.status_code == 303
    page = client.get(sent.headers["location"])
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text
    assert EMAIL in page.text
    code, _ = mailed(site)
    wrong = form_post(
        client, "/login/code/verify", {"email": EMAIL, "code": "2222-2222"}, "/login/code/verify"
    )
    assert wrong.status_code == 400
    assert "<form" in wrong.text
    done = form_post(
        client, "/login/code/verify", {"email": EMAIL, "code": code}, "/login/code/verify"
    )
    assert done.status_code == 303
    assert signed_in(client)


def test_dead_link_page_offers_a_new_code(pl_site):
    """A used link's page says so and links to a new code."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    request_code(site)
    _, path = mailed(site)
    assert post(site.new_client(), path.removeprefix(PREFIX)).status_code == 200
    client = site.new_client()
    html = client.get(path).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    dead = client.post(path, data={"csrf_token": token})
    assert dead.status_code == 400
    assert f"{PREFIX}/login/code" in dead.text


# -- app clients (PL-03) -------------------------------------------------------------------------


def token(client, **body):
    """POST /token as an app would: JSON, no cookies needed, no CSRF token."""
    return client.post(f"{PREFIX}/token", json=body, headers=JSON_HEADERS)


def bearer_me(client, access):
    return client.get(f"{PREFIX}/me", headers={"Authorization": f"Bearer {access}", **JSON_HEADERS})


def app_sign_in(site, client=None):
    client = client or site.new_client()
    answer = token(client, grant_type="password", email=EMAIL, password=PASSWORD)
    assert answer.status_code == 200, answer.text
    return client, answer.json()


def test_pl03_password_grant_gives_short_access_and_refresh(pl_site):
    """grant_type=password → access_token, refresh_token, integer expires_in ≤ 900, no-store;
    the access token authenticates /me as a bearer token."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client, body = app_sign_in(site)
    assert set(body) >= {"access_token", "refresh_token", "expires_in"}
    assert isinstance(body["expires_in"], int)
    assert 0 < body["expires_in"] <= 900
    me = bearer_me(client, body["access_token"])
    assert me.status_code == 200
    assert me.json()["user"]["email"] == EMAIL
    site.clock.advance(body["expires_in"] + 1)
    assert bearer_me(client, body["access_token"]).status_code == 401


def test_pl03_refresh_rotates_and_reuse_kills_the_family(pl_site):
    """Use a refresh token twice → the second fails and the newest one dies too (and its
    access token)."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client, first = app_sign_in(site)
    second = token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200, second.text
    newest = second.json()
    assert newest["refresh_token"] != first["refresh_token"]
    assert bearer_me(client, newest["access_token"]).status_code == 200
    reused = token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert error_code(reused) == "invalid_token"
    dead = token(client, grant_type="refresh_token", refresh_token=newest["refresh_token"])
    assert dead.status_code == 400
    assert bearer_me(client, newest["access_token"]).status_code == 401


def test_pl03_reuse_kills_only_that_family(pl_site):
    """Another device's family survives the reuse of this one's token."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client, phone = app_sign_in(site)
    _, tablet = app_sign_in(site)
    token(client, grant_type="refresh_token", refresh_token=phone["refresh_token"])
    token(client, grant_type="refresh_token", refresh_token=phone["refresh_token"])
    assert bearer_me(client, tablet["access_token"]).status_code == 200
    renewed = token(client, grant_type="refresh_token", refresh_token=tablet["refresh_token"])
    assert renewed.status_code == 200


def test_pl03_two_parallel_refreshes_one_wins(pl_site):
    """Two parallel uses of one refresh token → exactly one gets new tokens."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    _, body = app_sign_in(site)
    clients = [site.new_client() for _ in range(2)]
    barrier = Barrier(2)

    def submit(i):
        barrier.wait()
        return token(clients[i], grant_type="refresh_token", refresh_token=body["refresh_token"])

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(submit, range(2)))
    assert statuses == [200, 400]


def test_pl03_revoke_ends_the_family(pl_site):
    """POST /token/revoke → 200; the family's refresh and access tokens are dead; an unknown
    token is 200 too."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client, body = app_sign_in(site)
    revoked = client.post(
        f"{PREFIX}/token/revoke",
        json={"refresh_token": body["refresh_token"]},
        headers=JSON_HEADERS,
    )
    assert revoked.status_code == 200
    assert (
        token(client, grant_type="refresh_token", refresh_token=body["refresh_token"]).status_code
        == 400
    )
    assert bearer_me(client, body["access_token"]).status_code == 401
    unknown = client.post(
        f"{PREFIX}/token/revoke", json={"refresh_token": "dwr_" + "A" * 43}, headers=JSON_HEADERS
    )
    assert unknown.status_code == 200


@pytest.mark.parametrize("how", ["logout_everywhere", "password_change", "deactivation"])
def test_pl03_account_events_end_every_app_client(pl_site, how):
    """Logout everywhere, a password change and deactivation end app clients' tokens."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client, body = app_sign_in(site)
    if how == "deactivation":
        site.extras["deactivate"](EMAIL)
    else:
        login(site)
        if how == "logout_everywhere":
            assert post(site.client, "/logout-everywhere").status_code == 204
        else:
            changed = post(
                site.client,
                "/change-password",
                {"current_password": PASSWORD, "new_password": "another long passphrase here"},
            )
            assert changed.status_code in {200, 204}, changed.text
    assert bearer_me(client, body["access_token"]).status_code == 401
    again = token(client, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert again.status_code == 400


def test_pl03_token_takes_forms_and_a_csrf_token_is_not_refused(pl_site):
    """/token takes a form body too; a client that sends a CSRF token is not refused."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    client = site.new_client()
    answer = client.post(
        f"{PREFIX}/token",
        data={"grant_type": "password", "email": EMAIL, "password": PASSWORD, "csrf_token": "x"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    with_header = client.post(
        f"{PREFIX}/token",
        json={"grant_type": "password", "email": EMAIL, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf_token(client), **JSON_HEADERS},
    )
    assert with_header.status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_failed"),
        ({"grant_type": "client_credentials"}, "validation_failed"),
        ({"grant_type": "password", "email": EMAIL}, "validation_failed"),
        (
            {"grant_type": "password", "email": EMAIL, "password": "wrong password here!"},
            "invalid_credentials",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "dwr_short"}, "invalid_token"),
        ({"grant_type": "refresh_token", "refresh_token": 42}, "validation_failed"),
        ({"grant_type": "mfa", "mfa_token": "nope", "code": "123456"}, "invalid_credentials"),
    ],
)
def test_pl03_refusals_are_4xx_with_the_error_body(pl_site, body, code):
    """Every refusal of /token is a 4xx with the contract's error body, also for forms."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    answer = token(site.new_client(), **body)
    assert 400 <= answer.status_code < 500, answer.text
    assert error_code(answer) == code
    form = site.new_client().post(f"{PREFIX}/token", data={k: str(v) for k, v in body.items()})
    assert 400 <= form.status_code < 500
    assert form.headers["content-type"].startswith("application/json")


def test_pl03_sessions_list_shows_app_clients(pl_site):
    """GET /sessions lists app clients (name, agent); ending one there kills its tokens."""
    site = pl_site
    site.create_user(EMAIL, PASSWORD)
    app = site.new_client()
    answer = app.post(
        f"{PREFIX}/token",
        json={
            "grant_type": "password",
            "email": EMAIL,
            "password": PASSWORD,
            "client_name": "Ada's phone",
        },
        headers={**JSON_HEADERS, "User-Agent": "DoorwardApp/1.0 (iPhone; iOS 18)"},
    )
    body = answer.json()
    login(site)
    listed = site.client.get(f"{PREFIX}/sessions", headers=JSON_HEADERS).json()
    clients = listed["app_clients"]
    assert [c["name"] for c in clients] == ["Ada's phone"]
    assert clients[0]["user_agent"].startswith("DoorwardApp/1.0")
    page = site.client.get(f"{PREFIX}/sessions").text
    assert "Ada&#39;s phone" in page or "Ada's phone" in page
    headers = {"X-CSRF-Token": csrf_token(site.client), **JSON_HEADERS}
    ended = site.client.request("DELETE", f"{PREFIX}/sessions/{clients[0]['id']}", headers=headers)
    assert ended.status_code == 204
    assert bearer_me(app, body["access_token"]).status_code == 401
    assert site.client.get(f"{PREFIX}/sessions", headers=JSON_HEADERS).json()["app_clients"] == []


def test_features_are_off_by_default(site):
    """Without the settings, the routes do not exist."""
    assert post(site.client, "/login/code", {"email": EMAIL}).status_code == 404
    assert token(site.client, grant_type="password").status_code == 404


# -- passwordless accounts -----------------------------------------------------------------------


@pytest.fixture
def open_site(site_factory):
    return site_factory(sign_in_by_email=True, passwordless_accounts=True)


def test_passwordless_account_registers_with_an_email_only(open_site):
    """Registration takes an email only; the account signs in by code, a password login is
    refused like a wrong one (LE-01), and it may set a password later from a fresh session."""
    site = open_site
    registered = post(site.client, "/register", {"email": EMAIL})
    assert registered.status_code == 202, registered.text
    assert site.get_user(EMAIL).password_hash is None
    refused = post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
    wrong = post(site.client, "/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (wrong.status_code, wrong.json())
    request_code(site)
    code, _ = mailed(site)
    client = site.new_client()
    assert verify(client, code).status_code == 200
    assert site.get_user(EMAIL).confirmed_at is not None
    page = client.get(f"{PREFIX}/change-password").text
    assert "Set a password" in page
    assert 'name="current_password"' not in page
    assert post(client, "/change-password", {"new_password": PASSWORD}).status_code == 200
    assert (
        post(site.new_client(), "/login", {"email": EMAIL, "password": PASSWORD}).status_code == 200
    )


def test_passwordless_account_setting_a_password_needs_a_fresh_session(open_site):
    """Without a current password to prove, setting the first one needs a fresh session."""
    site = open_site
    post(site.client, "/register", {"email": EMAIL})
    request_code(site)
    code, _ = mailed(site)
    client = site.new_client()
    assert verify(client, code).status_code == 200
    site.clock.advance(11 * 60)
    stale = post(client, "/change-password", {"new_password": PASSWORD})
    assert stale.status_code == 401
    assert error_code(stale) == "reauth_required"
    assert "/login/code" in client.get(f"{PREFIX}/reauth").text


def test_passwordless_registration_still_checks_a_given_password(open_site):
    """A password given at registration is checked and kept."""
    site = open_site
    short = post(site.client, "/register", {"email": EMAIL, "password": "short"})
    assert short.status_code == 400
    assert "password" in short.json()["error"]["fields"]
    assert post(site.client, "/register", {"email": EMAIL, "password": PASSWORD}).status_code == 202
    assert site.get_user(EMAIL).password_hash is not None


def test_password_is_required_without_passwordless_accounts(site):
    """By default registration without a password is a field error."""
    answer = post(site.client, "/register", {"email": EMAIL})
    assert answer.status_code == 400
    assert "password" in answer.json()["error"]["fields"]


def test_passwordless_accounts_need_another_way_in():
    """The setting alone would make accounts nobody can sign in to: refused at start-up."""
    from tests.http.conftest import contract_settings

    with pytest.raises(ConfigurationError, match="another way in"):
        contract_settings(passwordless_accounts=True)
