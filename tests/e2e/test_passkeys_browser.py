"""Passkeys in a real browser (MF-07): Debian's chromium driven by Playwright, with Chrome
DevTools' virtual authenticator, on both adapters' real servers (gunicorn and uvicorn over
PostgreSQL). Register a passkey on the MFA page, log out, sign in with it and no password.
Every page these tests screenshot has no serious or critical axe-core violation.

The servers are named ``localhost`` (a WebAuthn RP ID must be a domain, never an IP).
Playwright never downloads a browser here: it launches the system's ``chromium``, which
``scripts/test`` installs with apt-get when it is absent and it runs as root.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from doorward_sqlalchemy.models import Base
from tests.e2e.conftest import Cluster, _running, axe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PASSWORD = "correct horse battery staple"
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in requirements/e2e.txt"
)


@pytest.fixture(scope="module")
def localhost_cluster(postgres_database):
    engine = sa.create_engine(postgres_database)
    Base.metadata.create_all(engine)
    environment = {
        "DOORWARD_E2E_DATABASE_URL": postgres_database.render_as_string(hide_password=False)
    }
    with _running(environment, host="localhost") as (flask_url, starlette_url, smtp):
        yield Cluster(flask_url=flask_url, starlette_url=starlette_url, smtp=smtp, engine=engine)
    engine.dispose()


def register_confirmed(cluster: Cluster, base_url: str, email: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        json = {"Accept": "application/json"}
        token = http.get("/auth/csrf", headers=json).json()["csrf_token"]
        headers = {"X-CSRF-Token": token, **json}
        before = len(cluster.smtp.messages)
        body = {"email": email, "password": PASSWORD}
        assert http.post("/auth/register", json=body, headers=headers).status_code == 202
        cluster.smtp.wait_for_mail(to=email, after=before)
        link = cluster.smtp.first_link(to=email)
        assert http.post(urlsplit(link).path, headers=headers).status_code == 200


def submit_password(page, base: str, email: str) -> None:
    """Open the login page and log in with the password (the caller waits for where to)."""
    page.goto(f"{base}/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/auth/login'] button[type=submit]")


def virtual_authenticator(context, page):
    """Chrome DevTools' virtual authenticator on ``page``: a resident key with user
    verification that answers by itself. Returns the CDP session and the authenticator id."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, added["authenticatorId"]


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_MF_07_register_a_passkey_then_sign_in_without_a_password(
    localhost_cluster, browser, axe_script, adapter, tmp_path
):
    """On the pages: log in, add a passkey (virtual authenticator with UV), log out, then
    "Sign in with a passkey" gives a session without typing the password."""
    cluster = localhost_cluster
    base = cluster.flask_url if adapter == "flask" else cluster.starlette_url
    email = f"browser-{adapter}@example.com"
    register_confirmed(cluster, base, email)
    context = browser.new_context()
    page = context.new_page()
    cdp, authenticator_id = virtual_authenticator(context, page)
    try:
        page.goto(f"{base}/auth/login")
        assert page.locator('input[autocomplete="username webauthn"]').count() == 1
        page.screenshot(path=tmp_path / f"login-page-{adapter}.png", full_page=True)
        assert axe_violations(page, axe_script) == []
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form[action='/auth/login'] button[type=submit]")
        page.wait_for_url(re.compile(r".*:\d+/$"))

        page.goto(f"{base}/auth/mfa")
        page.fill("#passkey-name", "Virtual key")
        page.click("form[data-passkey=register] button[type=submit]")
        page.wait_for_selector("text=Your recovery codes", timeout=15_000)
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        assert len(stored["credentials"]) == 1
        assert stored["credentials"][0]["isResidentCredential"] is True
        page.goto(f"{base}/auth/mfa")
        assert page.locator("text=Virtual key").count() == 1
        page.screenshot(path=tmp_path / f"mfa-page-{adapter}.png", full_page=True)
        assert axe_violations(page, axe_script) == []

        page.goto(f"{base}/auth/me")
        page.click("form[action='/auth/logout'] button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/auth/me")
        assert "/auth/login" in page.url

        # conditional UI: the virtual authenticator answers the page's conditional request
        # by itself (the user "picked" the passkey from autofill), in well under a second
        # here; the button only for a browser that does not. Clicking while the answer is
        # on its way would replace its challenge, so the wait is long enough for a busy host.
        page.goto(f"{base}/auth/login")
        try:
            page.wait_for_url(re.compile(r".*:\d+/$"), timeout=15_000)
        except sync_api.TimeoutError:
            page.click("form[data-passkey=login] button[type=submit]")
            page.wait_for_url(re.compile(r".*:\d+/$"), timeout=15_000)
        me = page.goto(f"{base}/auth/me")
        assert me is not None
        assert me.status == 200
        assert email in page.content()
        used = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        assert used["credentials"][0]["signCount"] >= 1
    finally:
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id})
        context.close()


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_MF_01_enrol_totp_on_the_page_then_log_in_with_a_code(
    localhost_cluster, browser, axe_script, adapter, tmp_path
):
    """On the pages, by clicking and typing: set up an authenticator app (read the key the
    page shows, type a pyotp code), see the recovery codes once, log out, log in: the
    password step leads to the code page, and a current code signs in."""
    import pyotp

    cluster = localhost_cluster
    base = cluster.flask_url if adapter == "flask" else cluster.starlette_url
    email = f"totp-{adapter}@example.com"
    register_confirmed(cluster, base, email)
    context = browser.new_context()
    page = context.new_page()
    try:
        submit_password(page, base, email)
        page.wait_for_url(re.compile(r".*:\d+/$"))

        page.goto(f"{base}/auth/mfa")
        page.click("form[action='/auth/mfa/totp'] button[type=submit]")
        page.wait_for_selector("svg")
        page.screenshot(path=tmp_path / f"totp-enrolment-{adapter}.png", full_page=True)
        assert axe_violations(page, axe_script) == []
        secret = page.locator("code").first.inner_text().strip()
        totp = pyotp.TOTP(secret)
        page.fill("#code", totp.now())
        page.click("form[action='/auth/mfa/totp/confirm'] button[type=submit]")
        page.wait_for_selector("text=Your recovery codes", timeout=15_000)
        page.screenshot(path=tmp_path / f"recovery-codes-{adapter}.png", full_page=True)
        assert axe_violations(page, axe_script) == []

        page.goto(f"{base}/auth/me")
        page.click("form[action='/auth/logout'] button[type=submit]")
        page.wait_for_load_state()

        submit_password(page, base, email)
        page.wait_for_url(re.compile(r".*/auth/login/mfa.*"))
        page.screenshot(path=tmp_path / f"second-step-{adapter}.png", full_page=True)
        assert axe_violations(page, axe_script) == []
        # the confirming code's time step is used up: the next step's code (±1 drift)
        page.fill("#code", totp.at(time.time() + 30))
        page.click("form[action='/auth/login/mfa']:not([data-passkey]) button[type=submit]")
        page.wait_for_url(re.compile(r".*:\d+/$"), timeout=15_000)
        me = page.goto(f"{base}/auth/me")
        assert me is not None
        assert me.status == 200
        assert email in page.content()
    finally:
        context.close()


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_MF_07_the_second_step_has_one_trust_box_for_the_code_and_the_passkey(
    localhost_cluster, browser, adapter
):
    """The second step offers "Trust this browser" once; ticked, it holds for the passkey
    form too (passkeys.js sends it along), so the passkey step sets the trust cookie."""
    cluster = localhost_cluster
    base = cluster.flask_url if adapter == "flask" else cluster.starlette_url
    email = f"trust-{adapter}@example.com"
    register_confirmed(cluster, base, email)
    context = browser.new_context()
    page = context.new_page()
    cdp, authenticator_id = virtual_authenticator(context, page)
    presence = {"authenticatorId": authenticator_id}
    try:
        submit_password(page, base, email)
        page.wait_for_url(re.compile(r".*:\d+/$"))
        page.goto(f"{base}/auth/mfa")
        page.click("form[data-passkey=register] button[type=submit]")
        page.wait_for_selector("text=Your recovery codes", timeout=15_000)
        page.goto(f"{base}/auth/me")
        page.click("form[action='/auth/logout'] button[type=submit]")
        page.wait_for_load_state()

        # no answer from the authenticator on the login page: the password, then the step
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": False})
        submit_password(page, base, email)
        page.wait_for_url(re.compile(r".*/auth/login/mfa.*"))
        assert page.get_by_label("Trust this browser for 30 days").count() == 1
        page.get_by_label("Trust this browser for 30 days").check()
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": True})
        page.click("form[data-passkey=mfa] button[type=submit]")
        page.wait_for_url(re.compile(r".*:\d+/$"), timeout=15_000)
        names = {cookie["name"] for cookie in context.cookies()}
        assert "doorward-trust" in names, names  # no __Host- prefix on http://localhost
    finally:
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id})
        context.close()
