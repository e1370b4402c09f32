"""The passkey part of the HTTP contract (DESIGN §9: ``/mfa/passkeys…``,
``/login/mfa/passkey-options``, ``/login/passkey…``) on every adapter and store, with a
software authenticator whose answers py_webauthn verifies for real (``tests/softauthn.py``).

The ``test_MF_07_*`` tests each fail when their check is removed: the origin, the RP ID,
the single-use challenge, the sign count and user verification for passwordless sign-in.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest

from tests.http.test_contract import (
    EMAIL,
    JSON_HEADERS,
    PASSWORD,
    PREFIX,
    SESSION,
    csrf_token,
    error_code,
    login,
    post,
)
from tests.http.test_mfa_contract import PENDING, delete
from tests.softauthn import SoftAuthenticator, b64

ORIGIN = "https://auth.example.com"
RP_ID = "auth.example.com"
CHALLENGE = "__Host-doorward-passkey"


@pytest.fixture
def pk_site(site):
    if not site.extras["auth"].enabled("passkeys"):
        pytest.skip("this store has no passkey capability")
    return site


def register(site, client=None, *, name="Laptop", counting=False):
    """Create the user, log in and add a passkey by JSON; the authenticator and the 201 body."""
    client = client or site.client
    if site.get_user(EMAIL) is None:
        site.create_user(EMAIL, PASSWORD)
    login(site, client)
    authenticator = SoftAuthenticator(ORIGIN, RP_ID, counting=counting)
    options = post(client, "/mfa/passkeys/options")
    assert options.status_code == 200, options.text
    assert options.headers["cache-control"] == "no-store"
    body = options.json()["options"]
    assert body["rp"]["id"] == RP_ID
    assert body["authenticatorSelection"]["userVerification"] == "preferred"
    assert CHALLENGE in options.cookies
    added = post(client, "/mfa/passkeys", {"credential": authenticator.create(body), "name": name})
    assert added.status_code == 201, added.text
    site.clock.advance(1)
    return authenticator, added.json()


def logged_out(site):
    """A new browser (nobody signed in)."""
    return site.new_client()


def passwordless_options(client):
    response = post(client, "/login/passkey/options")
    assert response.status_code == 200, response.text
    return response.json()["options"]


def sign_in(site, client, authenticator, **lie):
    options = passwordless_options(client)
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []
    return post(client, "/login/passkey", {"credential": authenticator.get(options, **lie)})


# -- registration, listing, removal --------------------------------------------------------------


def test_add_list_and_remove_a_passkey_json(pk_site):
    """Options → 201 (first recovery codes), listed in GET /mfa, DELETE → 204, notices mailed."""
    site = pk_site
    authenticator, body = register(site)
    assert body["passkey"]["name"] == "Laptop"
    assert len(body["recovery_codes"]) == 10
    mfa = site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]
    assert mfa["enabled"] is True
    assert [p["name"] for p in mfa["passkeys"]] == ["Laptop"]
    assert set(mfa["passkeys"][0]) == {"id", "name", "created_at", "last_used_at"}
    assert mfa["passkeys"][0]["last_used_at"] is None
    notices = [m for m in site.mails() if m.kind == "mfa_changed"]
    assert len(notices) == 1
    # the same credential again is refused (excluded, and unique in the store)
    options = post(site.client, "/mfa/passkeys/options").json()["options"]
    assert [d["id"] for d in options["excludeCredentials"]] == [body_id(authenticator)]
    again = post(site.client, "/mfa/passkeys", {"credential": authenticator.create(options)})
    assert again.status_code == 400
    removed = delete(site.client, f"/mfa/passkeys/{body['passkey']['id']}")
    assert removed.status_code == 204
    mfa = site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]
    assert mfa["passkeys"] == []
    assert mfa["enabled"] is False
    assert len([m for m in site.mails() if m.kind == "mfa_changed"]) == 2
    assert delete(site.client, f"/mfa/passkeys/{body['passkey']['id']}").status_code == 404


def body_id(authenticator):
    return b64(authenticator.credential_id)


def test_MF_07_a_credential_id_belongs_to_one_user(pk_site):
    """The same credential ID offered by a second user is refused; the first keeps it."""
    site = pk_site
    authenticator, _ = register(site)
    other = site.new_client()
    site.create_user("bob@example.com", PASSWORD)
    login(site, other, email="bob@example.com")
    options = post(other, "/mfa/passkeys/options").json()["options"]
    stolen = post(other, "/mfa/passkeys", {"credential": authenticator.create(options)})
    assert stolen.status_code == 400
    assert error_code(stolen) == "validation_failed"
    assert other.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["passkeys"] == []


def test_adding_needs_a_fresh_session_and_the_challenge_of_this_browser(pk_site):
    """Stale session → 401 reauth_required; a credential without this browser's challenge
    cookie (or after 5 minutes) → 400."""
    site = pk_site
    site.create_user(EMAIL, PASSWORD)
    login(site)
    authenticator = SoftAuthenticator(ORIGIN, RP_ID)
    options = post(site.client, "/mfa/passkeys/options").json()["options"]
    site.client.cookies.delete(CHALLENGE)
    assert (
        post(
            site.client, "/mfa/passkeys", {"credential": authenticator.create(options)}
        ).status_code
        == 400
    )
    options = post(site.client, "/mfa/passkeys/options").json()["options"]
    site.clock.advance(timedelta(minutes=5, seconds=1))
    assert (
        post(
            site.client, "/mfa/passkeys", {"credential": authenticator.create(options)}
        ).status_code
        == 400
    )
    site.clock.advance(timedelta(minutes=6))
    stale = post(site.client, "/mfa/passkeys/options")
    assert stale.status_code == 401
    assert error_code(stale) == "reauth_required"


def test_MF_07_registration_from_a_wrong_origin_or_rp_id_is_refused(pk_site):
    """An attestation made for another origin or RP ID is refused."""
    site = pk_site
    site.create_user(EMAIL, PASSWORD)
    login(site)
    authenticator = SoftAuthenticator(ORIGIN, RP_ID)
    for lie in ({"origin": "https://evil.example.net"}, {"rp_id": "evil.example.net"}):
        options = post(site.client, "/mfa/passkeys/options").json()["options"]
        refused = post(
            site.client, "/mfa/passkeys", {"credential": authenticator.create(options, **lie)}
        )
        assert refused.status_code == 400, lie
    assert site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["passkeys"] == []


# -- passwordless sign-in ------------------------------------------------------------------------


def test_sign_in_with_a_passkey_without_a_password(pk_site):
    """Discoverable credential with UV → {"user"} and a session; no second step; last use set."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    done = sign_in(site, client, authenticator)
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == EMAIL
    assert SESSION in done.cookies
    assert client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200
    listed = client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["passkeys"]
    assert listed[0]["last_used_at"] is not None


def test_MF_07_wrong_origin_refused(pk_site):
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    refused = sign_in(site, client, authenticator, origin="https://auth.example.com.evil.net")
    assert refused.status_code == 400
    assert error_code(refused) == "invalid_credentials"
    assert sign_in(site, client, authenticator).status_code == 200


def test_MF_07_wrong_rp_id_refused(pk_site):
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    refused = sign_in(site, client, authenticator, rp_id="example.com")
    assert refused.status_code == 400
    assert sign_in(site, client, authenticator).status_code == 200


def test_MF_07_uv_missing_refused_for_passwordless(pk_site):
    """Passwordless sign-in needs user verification: UV=false is refused."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    refused = sign_in(site, client, authenticator, uv=False)
    assert refused.status_code == 400
    assert SESSION not in refused.cookies
    assert sign_in(site, client, authenticator).status_code == 200


def test_MF_07_replayed_challenge_refused(pk_site):
    """One assertion (its challenge cookie with it) signs in once; a replay is refused,
    also for an authenticator whose counter stays 0."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    options = passwordless_options(client)
    assertion = authenticator.get(options)
    cookie = client.cookies.get(CHALLENGE)
    assert post(client, "/login/passkey", {"credential": assertion}).status_code == 200
    replay = logged_out(site)
    replay.cookies.set(CHALLENGE, cookie)
    refused = post(replay, "/login/passkey", {"credential": assertion})
    assert refused.status_code == 400
    assert error_code(refused) == "invalid_credentials"


def test_MF_07_challenge_of_another_browser_or_expired_refused(pk_site):
    """An assertion without the challenge cookie of the browser that asked, or after 5
    minutes, is refused."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    assertion = authenticator.get(passwordless_options(client))
    other = logged_out(site)
    assert post(other, "/login/passkey", {"credential": assertion}).status_code == 400
    site.clock.advance(timedelta(minutes=5, seconds=1))
    assert post(client, "/login/passkey", {"credential": assertion}).status_code == 400


def test_MF_07_sign_count_regression_refused(pk_site):
    """A counting authenticator whose count goes back (a cloned key) is refused."""
    site = pk_site
    authenticator, _ = register(site, counting=True)
    client = logged_out(site)
    assert sign_in(site, client, authenticator).status_code == 200  # count 1
    site.clock.advance(1)
    assert sign_in(site, client, authenticator).status_code == 200  # count 2
    site.clock.advance(1)
    refused = sign_in(site, client, authenticator, counter=1)
    assert refused.status_code == 400
    site.clock.advance(1)
    assert sign_in(site, client, authenticator).status_code == 200  # count 3


def test_MF_07_parallel_uses_of_one_assertion_one_wins(pk_site):
    """Two browsers racing one assertion with its cookie: exactly one session."""
    site = pk_site
    authenticator, _ = register(site)
    first = logged_out(site)
    options = passwordless_options(first)
    assertion = authenticator.get(options)
    second = logged_out(site)
    second.cookies.set(CHALLENGE, first.cookies.get(CHALLENGE))
    clients = [first, second]
    tokens = [csrf_token(c) for c in clients]
    barrier = Barrier(2)

    def go(index):
        barrier.wait()
        headers = {"X-CSRF-Token": tokens[index], **JSON_HEADERS}
        return (
            clients[index]
            .post(f"{PREFIX}/login/passkey", json={"credential": assertion}, headers=headers)
            .status_code
        )

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(go, range(2)))
    assert codes == [200, 400]


def test_unknown_passkey_and_garbage_are_neutral(pk_site):
    site = pk_site
    register(site)
    client = logged_out(site)
    stranger = SoftAuthenticator(ORIGIN, RP_ID)
    stranger.user_handle = b"x" * 32
    unknown = sign_in(site, client, stranger)
    garbage = post(client, "/login/passkey", {"credential": {"rawId": 5}})
    text = post(client, "/login/passkey", {"credential": "not json"})
    for refused in (unknown, garbage, text):
        assert refused.status_code == 400
        assert refused.json() == unknown.json()


# -- the second step -----------------------------------------------------------------------------


def test_passkey_as_the_second_step(pk_site):
    """Password → mfa_required with "passkey"; passkey-options + credential → session."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    step = post(client, "/login", {"email": EMAIL, "password": PASSWORD})
    assert step.json() == {"mfa_required": True, "methods": ["passkey", "recovery"]}
    options = post(client, "/login/mfa/passkey-options")
    assert options.status_code == 200, options.text
    body = options.json()["options"]
    assert [d["id"] for d in body["allowCredentials"]] == [body_id(authenticator)]
    done = post(client, "/login/mfa", {"credential": authenticator.get(body, uv=False)})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == EMAIL
    assert client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


def test_MF_07_second_step_assertion_is_single_use_and_bound(pk_site):
    """An assertion for one pending login does not finish another; options need a pending
    login; a wrong origin fails like a wrong code."""
    site = pk_site
    authenticator, _ = register(site)
    client = logged_out(site)
    assert post(client, "/login/mfa/passkey-options").status_code == 400
    post(client, "/login", {"email": EMAIL, "password": PASSWORD})
    body = post(client, "/login/mfa/passkey-options").json()["options"]
    wrong = post(
        client, "/login/mfa", {"credential": authenticator.get(body, origin="https://x.example")}
    )
    assert wrong.status_code == 400
    assertion = authenticator.get(body)
    cookie = client.cookies.get(CHALLENGE)
    assert post(client, "/login/mfa", {"credential": assertion}).status_code == 200
    again = logged_out(site)
    post(again, "/login", {"email": EMAIL, "password": PASSWORD})
    again.cookies.set(CHALLENGE, cookie)
    assert post(again, "/login/mfa", {"credential": assertion}).status_code == 400
    assert PENDING in again.cookies


def test_totp_removal_keeps_recovery_codes_while_a_passkey_is_left(pk_site):
    """Passkey-only users keep their recovery codes; the last factor gone, they go too."""
    site = pk_site
    _, body = register(site)
    client = logged_out(site)
    post(client, "/login", {"email": EMAIL, "password": PASSWORD})
    used = post(client, "/login/mfa", {"code": body["recovery_codes"][0]})
    assert used.status_code == 200, used.text


# -- pages ---------------------------------------------------------------------------------------


def test_pages_offer_passkeys_and_serve_the_script(pk_site):
    """Login page: passkey button, conditional UI; MFA page: list and add; the script has
    the security headers and a JavaScript type; no inline script anywhere."""
    site = pk_site
    page = site.client.get(f"{PREFIX}/login").text
    assert 'autocomplete="username webauthn"' in page
    assert 'data-passkey="login"' in page
    assert "Sign in with a passkey" in page
    assert f'<script src="{PREFIX}/assets/passkeys.js" defer></script>' in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    script = site.client.get(f"{PREFIX}/assets/passkeys.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors" in script.headers["content-security-policy"]
    assert "navigator.credentials" in script.text
    assert 'mediation = "conditional"' in script.text
    register(site)
    mfa = site.client.get(f"{PREFIX}/mfa").text
    assert "Laptop" in mfa
    assert 'data-passkey="register"' in mfa
    client = logged_out(site)
    step = client.post(
        f"{PREFIX}/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert step.status_code == 303
    second = client.get(f"{PREFIX}/login/mfa").text
    assert "Use a passkey" in second
    assert 'data-passkey="mfa"' in second


def test_passkey_forms_without_javascript_state(pk_site):
    """The page forms post the credential JSON as a string field and get redirects."""
    site = pk_site
    authenticator, body = register(site)
    delete(site.client, f"/mfa/passkeys/{body['passkey']['id']}")
    options = post(site.client, "/mfa/passkeys/options").json()["options"]
    added = site.client.post(
        f"{PREFIX}/mfa/passkeys",
        data={
            "credential": json.dumps(authenticator.create(options)),
            "name": "Phone",
            "csrf_token": csrf_token(site.client),
        },
    )
    assert added.status_code in {200, 303}, added.text
    client = logged_out(site)
    options = passwordless_options(client)
    signed = client.post(
        f"{PREFIX}/login/passkey",
        data={
            "credential": json.dumps(authenticator.get(options)),
            "csrf_token": csrf_token(client),
            "next": "/after",
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/after"
