"""The pages in a real browser (issue 18): Debian's chromium driven by Playwright against
both adapters' real servers (gunicorn and uvicorn over PostgreSQL, mail caught by aiosmtpd).

- a person's whole journey by clicking and typing, on each adapter, crossing to the other app;
- axe-core (the npm package, pinned in conftest's ``AXE_CORE``, installed into ``.cache/axe``)
  on every doorward page visited: no serious or critical violation;
- a German browser gets German pages and a German mail;
- at 390 px in the dark scheme the login page, the account center and the pages with wide
  content do not scroll sideways.

Every step also checks: no 5xx answer, no console error, every input labelled. Each test
saves a full-page screenshot of every page it visits in its ``tmp_path``, named
``<test>-<adapter>-<nn>-<step>.png`` (``journey-flask-04-register-errors.png``).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Cluster, Tab, tab, wait_for_focus

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in requirements/e2e.txt"
)

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new sentence for this account"
RESET_PASSWORD = "the third password after a reset mail"
HOME = re.compile(r".*:\d+/$")


def urls(cluster: Cluster, adapter: str) -> tuple[str, str]:
    """This adapter's server, then the other one."""
    if adapter == "flask":
        return cluster.flask_url, cluster.starlette_url
    return cluster.starlette_url, cluster.flask_url


def mailed_link(cluster: Cluster, before: int, email: str) -> str:
    cluster.smtp.wait_for_mail(to=email, after=before)
    return cluster.smtp.first_link(to=email)


def log_in(t: Tab, email: str, password: str) -> None:
    t.page.get_by_label("Email", exact=True).fill(email)
    t.page.get_by_label("Password", exact=True).fill(password)
    t.submit("Log in")


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_the_journey_by_clicking_and_typing(cluster, browser, axe_script, adapter, tmp_path):
    """Register (both errors at once first), confirm from the mail, log in, the other app
    knows you, change password, log out, an emailed code refused, forgot/reset from the
    mail, log in again, an API token, the sessions page, change email, log out everywhere;
    on the way every doorward page (account center, MFA and TOTP set-up, delete, re-auth,
    notices, the error page of a used link) passes the checks of ``Tab.check``."""
    base, other = urls(cluster, adapter)
    email = f"journey-{adapter}@example.com"
    with tab(browser, axe_script, tmp_path, f"journey-{adapter}") as t:
        page = t.page
        page.goto(f"{base}/auth/login")
        t.check("login")
        t.follow("Create an account")
        t.check("register")

        page.get_by_label("Email", exact=True).fill("someone@localhost")
        page.get_by_label(re.compile(r"^Password")).fill("too short")
        t.submit("Create account")
        assert page.locator(".error").count() == 2
        assert page.get_by_label("Email", exact=True).get_attribute("aria-invalid") == "true"
        wait_for_focus(page, "email")
        t.check("register-errors")

        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
        before = len(cluster.smtp.messages)
        t.submit("Create account")
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
        assert page.title().startswith("Check your inbox")
        t.check("registered")

        confirm_link = mailed_link(cluster, before, email)
        page.goto(confirm_link)
        t.check("confirm")
        t.submit("Confirm my address")
        assert page.url.startswith(f"{base}/auth/login")
        t.check("confirmed")
        page.goto(confirm_link)
        assert page.get_by_role("link", name="Send me a new confirmation link").is_visible()
        t.check("confirm-link-used")
        page.go_back()
        log_in(t, email, PASSWORD)
        page.wait_for_url(HOME)
        t.follow("Your account")
        assert page.url.endswith("/auth/account")
        assert page.get_by_text(email).first.is_visible()
        t.check("account")
        t.follow("Change")
        t.check("change-email")
        page.go_back()
        t.follow("Delete my account…")
        t.check("delete-account")
        t.follow("Back to your account")
        t.follow("Manage second factors")
        t.check("mfa")
        t.submit("Set up an authenticator app")
        assert page.locator("svg").count() == 1
        t.check("mfa-totp")

        page.goto(f"{other}/auth/me")
        assert page.url == f"{other}/auth/me"
        assert page.get_by_text(email).first.is_visible()
        t.check("other-app-me")

        page.goto(f"{base}/auth/me")
        t.check("me")
        t.follow("Change password")
        t.check("change-password")
        page.get_by_label("Current password", exact=True).fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        t.submit("Change password")
        t.check("password-changed")
        t.follow("Your account")
        t.submit("Log out")
        t.check("logged-out")

        page.goto(f"{base}/auth/login")
        t.follow("Resend the confirmation mail")
        t.check("resend-confirmation")
        page.go_back()
        t.follow("Email me a sign-in code")
        t.check("sign-in-code")
        page.get_by_label("Email", exact=True).fill(email)
        before = len(cluster.smtp.messages)
        t.submit("Email me a sign-in code")
        cluster.smtp.wait_for_mail(to=email, after=before)
        t.check("sign-in-code-sent")
        page.get_by_label("Email", exact=True).fill("someone@localhost")
        page.get_by_label("Code", exact=True).fill("ABCD-EFGH")
        t.submit("Sign in")
        wait_for_focus(page, "email")
        assert page.get_by_label("Code", exact=True).get_attribute("aria-invalid") is None
        t.check("sign-in-code-refused")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Code", exact=True).fill("ABCD-EFGH")
        t.submit("Sign in")
        t.check("sign-in-code-wrong")
        t.follow("Log in with your password")
        t.follow("Forgot your password?")
        t.check("forgot")
        page.get_by_label("Email", exact=True).fill(email)
        before = len(cluster.smtp.messages)
        t.submit("Send me a reset link")
        t.check("reset-sent")
        link = mailed_link(cluster, before, email)
        page.goto(link)
        t.check("reset")
        page.get_by_label("New password", exact=True).fill(RESET_PASSWORD)
        t.submit("Set password")
        t.check("password-reset")
        page.goto(link)
        assert page.get_by_role("link", name="Send me a new reset link").is_visible()
        t.check("reset-link-used")

        page.goto(f"{base}/auth/login")
        log_in(t, email, NEW_PASSWORD)
        assert "/auth/login" in page.url
        assert page.locator(".alert").is_visible()
        t.check("login-refused")
        log_in(t, email, RESET_PASSWORD)
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/login")
        assert page.get_by_text(f"You are logged in as {email}.").is_visible()

        page.goto(f"{base}/auth/me")
        t.follow("API tokens")
        t.check("tokens")
        page.get_by_label("Name", exact=True).fill("backup script")
        t.submit("Create token")
        assert page.locator(".notice code").inner_text().strip()
        assert page.get_by_text("backup script").is_visible()
        t.check("token-created")

        page.goto(f"{base}/auth/me")
        t.follow("Sessions")
        assert page.get_by_text("(this device)").count() == 1
        listed = page.locator("main li").first.inner_text()
        assert "Chrome" in listed
        assert "Mozilla/" not in listed
        assert not re.search(r"\d{4}-\d\d-\d\dT", listed)
        t.check("sessions")
        t.follow("Back to your account")
        page.goto(f"{base}/auth/reauth")
        t.check("reauth")

        moved = f"moved-{adapter}@example.com"
        page.goto(f"{base}/auth/account")
        t.follow("Change")
        page.get_by_label("New email", exact=True).fill(moved)
        page.get_by_label("Password", exact=True).fill(RESET_PASSWORD)
        before = len(cluster.smtp.messages)
        t.submit("Send a confirmation link to the new address")
        t.check("change-email-sent")
        page.goto(mailed_link(cluster, before, moved))
        t.check("change-email-confirm")
        t.submit("Use this address")
        t.check("email-changed")
        log_in(t, moved, RESET_PASSWORD)
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/account")
        assert page.get_by_text(moved).first.is_visible()
        t.submit("Log out everywhere")
        t.check("logged-out-everywhere")
        for server in (base, other):
            page.goto(f"{server}/auth/me")
            assert "/auth/login" in page.url
        t.check("login-after-logout")


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_a_german_browser_gets_german_pages_and_mail(
    cluster, browser, axe_script, adapter, tmp_path
):
    """A browser asking for German (``de-DE``) gets ``lang="de"`` pages at every step (the
    refused form, the notice, the emailed link's page, login, the account center) and the
    confirmation mail in German."""
    base, _ = urls(cluster, adapter)
    email = f"deutsch-{adapter}@example.com"
    with tab(browser, axe_script, tmp_path, f"german-{adapter}", locale="de-DE") as t:
        page = t.page
        page.goto(f"{base}/auth/register")
        assert page.get_attribute("html", "lang") == "de"
        assert page.get_by_role("heading", name="Konto erstellen").is_visible()
        t.check("register")
        page.get_by_label("E-Mail", exact=True).fill("someone@localhost")
        page.get_by_label(re.compile(r"^Passwort")).fill("zu kurz")
        t.submit("Konto erstellen")
        assert page.get_by_text("Einige Felder sind ungültig.").is_visible()
        assert page.get_by_text("Verwenden Sie mindestens 15 Zeichen (dieses hat 7).").is_visible()
        wait_for_focus(page, "email")
        t.check("register-errors")
        page.get_by_label("E-Mail", exact=True).fill(email)
        page.get_by_label(re.compile(r"^Passwort")).fill(PASSWORD)
        before = len(cluster.smtp.messages)
        t.submit("Konto erstellen")
        assert page.get_attribute("html", "lang") == "de"
        assert page.get_by_role("heading", name="Sehen Sie in Ihrem Posteingang nach").is_visible()
        t.check("registered")

        mail = cluster.smtp.wait_for_mail(to=email, after=before)
        assert mail["Subject"].startswith("Bestätigen Sie Ihre E-Mail-Adresse")
        assert "bitte bestätigen Sie Ihre E-Mail-Adresse" in cluster.smtp.text_of(mail)
        page.goto(cluster.smtp.first_link(to=email))
        assert page.get_by_role("heading", name="E-Mail-Adresse bestätigen").is_visible()
        t.check("confirm")
        t.submit("Meine Adresse bestätigen")
        assert page.get_attribute("html", "lang") == "de"
        assert page.get_by_text("Ihre E-Mail-Adresse ist bestätigt").is_visible()
        assert page.get_by_text("Auf diesem Gerät angemeldet bleiben").is_visible()
        t.check("login")
        page.get_by_label("E-Mail", exact=True).fill(email)
        page.get_by_label("Passwort", exact=True).fill(PASSWORD)
        t.submit("Anmelden")
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/account")
        assert page.get_attribute("html", "lang") == "de"
        assert page.get_by_role("heading", name="Ihr Konto").is_visible()
        t.check("account")


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_at_390_px_nothing_scrolls_sideways(cluster, browser, axe_script, adapter, tmp_path):
    """A phone-sized window in the dark scheme: the login page and the account center fit
    in 390 px, and so do the pages with wide content (errors, a QR code, a token); axe-core
    checks the dark scheme's contrast on each."""
    base, _ = urls(cluster, adapter)
    email = f"phone-{adapter}@example.com"
    options = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "color_scheme": "dark",
    }

    def fits(step: str) -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, step
        t.check(step)

    with tab(browser, axe_script, tmp_path, f"mobile-{adapter}", **options) as t:
        page = t.page
        page.goto(f"{base}/auth/register")
        page.get_by_label("Email", exact=True).fill("someone@localhost")
        page.get_by_label(re.compile(r"^Password")).fill("too short")
        t.submit("Create account")
        fits("register-errors")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
        before = len(cluster.smtp.messages)
        t.submit("Create account")
        page.goto(mailed_link(cluster, before, email))
        t.submit("Confirm my address")

        fits("login")
        log_in(t, email, PASSWORD)
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/account")
        fits("account")
        t.follow("Delete my account…")
        fits("delete-account")
        t.follow("Back to your account")
        t.follow("Manage second factors")
        t.submit("Set up an authenticator app")
        fits("mfa-totp")
        page.goto(f"{base}/auth/tokens")
        page.get_by_label("Name", exact=True).fill("phone")
        t.submit("Create token")
        fits("token-created")
