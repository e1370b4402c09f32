"""The MFA part of the HTTP contract (DESIGN §9: ``/mfa…``, ``/login`` with MFA,
``/login/mfa``) on every adapter and store, JSON and pages."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pyotp
import pytest

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

PENDING = "__Host-doorward-mfa"
TRUST = "__Host-doorward-trust"


@pytest.fixture
def mfa_site(site):
    if not site.extras["auth"].enabled("mfa"):
        pytest.skip("this store has no Authenticators capability yet")
    return site


def delete(client, path):
    headers = {"X-CSRF-Token": csrf_token(client), **JSON_HEADERS}
    return client.request("DELETE", f"{PREFIX}{path}", headers=headers)


def code(site, secret, offset=0):
    return pyotp.TOTP(secret).at(site.clock.now() + timedelta(seconds=offset))


def enrol(site, client=None):
    """Create the user, log in, enrol TOTP by JSON: the secret and the recovery codes."""
    client = client or site.client
    site.create_user(EMAIL, PASSWORD)
    login(site, client)
    started = post(client, "/mfa/totp")
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    confirmed = post(client, "/mfa/totp/confirm", {"code": code(site, secret)})
    assert confirmed.status_code == 200, confirmed.text
    site.clock.advance(30)
    return secret, confirmed.json()["recovery_codes"]


def password_step(site, client):
    """POST /login of an enrolled user: 200 mfa_required and the pending cookie."""
    response = post(client, "/login", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json() == {"mfa_required": True, "methods": ["totp", "recovery"]}
    return response


def test_mfa_status_and_enrolment_json(mfa_site):
    """GET /mfa, POST /mfa/totp (no-store, secret once), confirm → codes, then enabled."""
    site = mfa_site
    site.create_user(EMAIL, PASSWORD)
    login(site)
    status = site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS)
    assert status.status_code == 200
    assert status.json()["mfa"] == {
        "enabled": False,
        "totp": None,
        "passkeys": [],
        "recovery_codes_left": 0,
        "trusted_browsers": [],
    }
    started = post(site.client, "/mfa/totp")
    assert started.headers["cache-control"] == "no-store"
    body = started.json()
    assert {"secret", "otpauth_uri", "qr_svg"} == set(body)
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    assert site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["enabled"] is False
    wrong = post(site.client, "/mfa/totp/confirm", {"code": "12345x"})
    assert wrong.status_code == 400
    assert error_code(wrong) == "validation_failed"
    confirmed = post(site.client, "/mfa/totp/confirm", {"code": code(site, body["secret"])})
    assert confirmed.status_code == 200
    assert confirmed.headers["cache-control"] == "no-store"
    assert len(confirmed.json()["recovery_codes"]) == 10
    mfa = site.client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]
    assert mfa["enabled"] is True
    assert mfa["recovery_codes_left"] == 10
    assert body["secret"] not in str(mfa)
    assert any(m.kind == "mfa_changed" for m in site.mails())


def test_mf05_login_with_mfa_json(mfa_site):
    """Right password → 200 mfa_required, pending cookie, no session; /me 401; code → user."""
    site = mfa_site
    secret, _ = enrol(site)
    client = site.new_client()
    step = password_step(site, client)
    assert PENDING in step.cookies
    assert SESSION not in step.cookies
    assert client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401
    done = post(client, "/login/mfa", {"code": code(site, secret)})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == EMAIL
    assert client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


def test_mf05_pending_cookie_dies_on_success_and_after_five_minutes(mfa_site):
    """A pending cookie replayed after success, or used after 5 minutes, is refused alike."""
    site = mfa_site
    secret, _ = enrol(site)
    client = site.new_client()
    step = password_step(site, client)
    pending = step.cookies[PENDING]
    assert post(client, "/login/mfa", {"code": code(site, secret)}).status_code == 200
    replay = site.new_client()
    replay.cookies.set(PENDING, pending)
    site.clock.advance(30)
    reused = post(replay, "/login/mfa", {"code": code(site, secret)})
    late_client = site.new_client()
    password_step(site, late_client)
    site.clock.advance(timedelta(minutes=5))
    late = post(late_client, "/login/mfa", {"code": code(site, secret)})
    wrong_client = site.new_client()
    password_step(site, wrong_client)
    wrong = post(
        wrong_client, "/login/mfa", {"code": "000000" if code(site, secret) != "000000" else "1"}
    )
    assert reused.status_code == late.status_code == wrong.status_code == 400
    assert reused.json() == late.json() == wrong.json()


def test_mf02_a_code_is_accepted_once_over_http(mfa_site):
    """The code that signed one browser in is refused for a second one in the same step."""
    site = mfa_site
    secret, _ = enrol(site)
    first, second = site.new_client(), site.new_client()
    password_step(site, first)
    password_step(site, second)
    now = code(site, secret)
    assert post(first, "/login/mfa", {"code": now}).status_code == 200
    assert post(second, "/login/mfa", {"code": now}).status_code == 400


def test_mf02_parallel_submissions_of_one_code_give_one_session(mfa_site):
    """Two browsers submit one code at once (threads released together) → one session."""
    site = mfa_site
    secret, _ = enrol(site)
    clients = [site.new_client() for _ in range(2)]
    for client in clients:
        password_step(site, client)
    tokens = [csrf_token(client) for client in clients]
    now = code(site, secret)
    barrier = Barrier(2)

    def submit(i):
        barrier.wait()
        return clients[i].post(
            f"{PREFIX}/login/mfa",
            json={"code": now},
            headers={"X-CSRF-Token": tokens[i], **JSON_HEADERS},
        )

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(submit, range(2)))
    assert statuses == [200, 400]


def test_mf04_a_recovery_code_works_once(mfa_site):
    """A recovery code (any case, with dashes) signs in once; regenerating kills the rest."""
    site = mfa_site
    _, codes = enrol(site)
    client = site.new_client()
    password_step(site, client)
    assert post(client, "/login/mfa", {"code": codes[0].upper()}).status_code == 200
    again = site.new_client()
    password_step(site, again)
    assert post(again, "/login/mfa", {"code": codes[0]}).status_code == 400
    fresh = post(client, "/mfa/recovery-codes")
    assert fresh.status_code == 200
    assert fresh.headers["cache-control"] == "no-store"
    site.clock.advance(61)
    old = site.new_client()
    password_step(site, old)
    assert post(old, "/login/mfa", {"code": codes[1]}).status_code == 400
    site.clock.advance(61)
    new = site.new_client()
    password_step(site, new)
    assert post(new, "/login/mfa", {"code": fresh.json()["recovery_codes"][0]}).status_code == 200


def test_mf06_stale_session_gets_reauth_required(mfa_site):
    """Factor changes on a session older than fresh_window answer 401 reauth_required."""
    site = mfa_site
    enrol(site)
    site.clock.advance(timedelta(minutes=11))
    for response in (
        post(site.client, "/mfa/totp"),
        post(site.client, "/mfa/recovery-codes"),
        delete(site.client, "/mfa/totp"),
    ):
        assert response.status_code == 401
        assert error_code(response) == "reauth_required"


def test_mf06_removing_the_app_while_mfa_is_required_is_400(site_factory):
    """With require_mfa the last factor cannot be deleted."""
    site = site_factory(require_mfa=True, password_min_length=8)
    if not site.extras["auth"].enabled("mfa"):
        pytest.skip("this store has no Authenticators capability yet")
    enrol(site)
    response = delete(site.client, "/mfa/totp")
    assert response.status_code == 400


def test_delete_totp_turns_mfa_off(mfa_site):
    """DELETE /mfa/totp → 204; the next login needs no code."""
    site = mfa_site
    enrol(site)
    assert delete(site.client, "/mfa/totp").status_code == 204
    client = site.new_client()
    assert "user" in login(site, client).json()


def test_mf09_trusted_browser_and_logout_everywhere(mfa_site):
    """trust_device sets a trust cookie that spares the code, until logout-everywhere."""
    site = mfa_site
    secret, _ = enrol(site)
    client = site.new_client()
    password_step(site, client)
    done = post(client, "/login/mfa", {"code": code(site, secret), "trust_device": True})
    assert done.status_code == 200
    assert TRUST in done.cookies
    post(client, "/logout")
    assert "user" in login(site, client).json()
    listed = client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["trusted_browsers"]
    assert len(listed) == 1
    assert post(client, "/logout-everywhere").status_code == 204
    password_step(site, client)


def test_mfa_page_names_trusted_browsers_as_people_read_them(mfa_site):
    """The MFA page names a trusted browser ("Firefox on Linux"), keeps the raw User-Agent
    for its tooltip only, and links to the account center rather than to itself."""
    site = mfa_site
    secret, _ = enrol(site)
    client = site.new_client()
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    client.headers["User-Agent"] = agent
    password_step(site, client)
    post(client, "/login/mfa", {"code": code(site, secret), "trust_device": True})
    page = client.get(f"{PREFIX}/mfa").text
    assert ">Firefox on Linux</span>" in page
    assert f">{agent}" not in page
    assert f'title="{agent}"' in page
    assert f'<a href="{PREFIX}/mfa">' not in page
    assert f'<a href="{PREFIX}/account">' in page


def test_mf09_revoking_a_trusted_browser(mfa_site):
    """DELETE /mfa/trusted/{id} → 204, and that browser is asked for a code again."""
    site = mfa_site
    secret, _ = enrol(site)
    client = site.new_client()
    password_step(site, client)
    post(client, "/login/mfa", {"code": code(site, secret), "trust_device": True})
    (browser,) = client.get(f"{PREFIX}/mfa", headers=JSON_HEADERS).json()["mfa"]["trusted_browsers"]
    assert delete(client, f"/mfa/trusted/{browser['id']}").status_code == 204
    assert delete(client, f"/mfa/trusted/{browser['id']}").status_code == 404
    post(client, "/logout")
    password_step(site, client)


def test_mfa_pages(mfa_site):
    """Browsers: overview, enrolment with an inline SVG, the codes page, the second step."""
    site = mfa_site
    site.create_user(EMAIL, PASSWORD)
    browser = site.client
    response = form_post(browser, "/login", {"email": EMAIL, "password": PASSWORD}, "/login")
    assert response.status_code == 303
    overview = browser.get(f"{PREFIX}/mfa")
    assert overview.status_code == 200
    assert "Set up an authenticator app" in overview.text
    enrolment = form_post(browser, "/mfa/totp", {}, "/mfa")
    assert enrolment.status_code == 200
    assert "<svg" in enrolment.text
    assert enrolment.headers["cache-control"] == "no-store"
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", enrolment.text).group(1)
    codes_page = form_post(browser, "/mfa/totp/confirm", {"code": code(site, secret)}, "/mfa")
    assert codes_page.status_code == 200
    assert (
        len(
            re.findall(
                r"<li><code>[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}</code></li>", codes_page.text
            )
        )
        == 10
    )
    site.clock.advance(30)
    other = site.new_client()
    step = form_post(
        other, "/login", {"email": EMAIL, "password": PASSWORD, "next": "/inside"}, "/login"
    )
    assert step.status_code == 303
    assert step.headers["location"].startswith(f"{PREFIX}/login/mfa?next=")
    page = other.get(step.headers["location"])
    assert page.status_code == 200
    assert 'name="code"' in page.text
    wrong = form_post(
        other,
        "/login/mfa",
        {"code": "999999" if code(site, secret) != "999999" else "1"},
        "/login/mfa",
    )
    assert wrong.status_code == 400
    assert 'name="code"' in wrong.text
    site.clock.advance(61)
    done = form_post(
        other, "/login/mfa", {"code": code(site, secret), "next": "/inside"}, "/login/mfa"
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/inside"
    assert other.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


def test_required_mfa_login_points_to_enrolment(site_factory):
    """With require_mfa, a user without a factor logs in with mfa_enrolment_required (JSON)
    and browsers land on /mfa; once enrolled the second step is asked."""
    site = site_factory(require_mfa=True, password_min_length=8)
    if not site.extras["auth"].enabled("mfa"):
        pytest.skip("this store has no Authenticators capability yet")
    site.create_user(EMAIL, PASSWORD)
    body = login(site).json()
    assert body["mfa_enrolment_required"] is True
    assert body["user"]["email"] == EMAIL
    browser = site.new_client()
    landed = form_post(browser, "/login", {"email": EMAIL, "password": PASSWORD}, "/login")
    assert landed.status_code == 303
    assert landed.headers["location"].startswith(f"{PREFIX}/mfa?notice=mfa_enrolment_required")
    page = browser.get(landed.headers["location"])
    assert "requires two-factor authentication" in page.text
    started = post(site.client, "/mfa/totp").json()
    post(site.client, "/mfa/totp/confirm", {"code": code(site, started["secret"])})
    site.clock.advance(30)
    password_step(site, site.new_client())
