"""Issue 18's nine findings, each looked for in a real browser: the two example apps as real
servers (gunicorn for Flask, uvicorn for Starlette) on one SQLite file, their mail through
the durable outbox to a real SMTP server (aiosmtpd), Debian's chromium driven by Playwright.

Each test is named after the finding it guards; ``tests/http/test_pages.py`` checks the same
pages through the test clients on every store.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, wait_for_focus

pytestmark = [pytest.mark.e2e]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in requirements/e2e.txt"
)
ADAPTERS = ["flask", "starlette"]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser (no cookies); fails the test on any console error or 5xx."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if _console_error(m) else None)
    opened.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    yield opened
    context.close()
    assert errors == []


def _console_error(message: Any) -> bool:
    """A console error, except the browser's own line for a 4xx page a test asked for (the
    responses are checked for 5xx separately)."""
    text = str(message.text)
    loaded_4xx = re.match(r"Failed to load resource: .* status of 4\d\d", text)
    return message.type == "error" and not loaded_4xx


def log_in(page: Any, base: str, email: str, *, path: str = "/auth/login") -> None:
    page.goto(base + path)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action$='/login'] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_1_login_returns_to_the_page_asked_for(examples, page, adapter):
    """An app page's guard sends the browser to log in; after logging in it is back on it."""
    base = examples.urls[adapter]
    email = examples.confirmed_user()
    page.goto(base + "/account")
    assert "/auth/login" in page.url
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action$='/login'] button[type=submit]").click()
    page.wait_for_url(base + "/account")
    assert page.get_by_role("heading", name="Your account").is_visible()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_2_notice_and_error_pages_have_titles(examples, page, adapter):
    """The page after registering is titled and headed "Check your inbox"; an error page's
    title has no stray dot."""
    base = examples.urls[adapter]
    page.goto(base + "/auth/register")
    page.locator("#email").fill(f"{secrets.token_hex(4)}@example.com")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert page.title().startswith("Check your inbox · ")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your inbox"
    page.goto(base + "/auth/reset/not-a-token")
    assert not page.title().rstrip().endswith("·")
    assert page.title().split(" · ")[0].strip()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_3_and_5_register_reports_every_error_and_focuses_the_first(
    examples, page, adapter
):
    """A bad email and a short password are both reported at once; the focus is on the email.
    (The address passes the browser's own check, so the server's answer is what is seen.)"""
    page.goto(examples.urls[adapter] + "/auth/register")
    page.locator("#email").fill("ada@example")
    page.locator("#password").fill("short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert page.locator("#email-error").inner_text().strip()
    assert page.locator("#password-error").inner_text().strip()
    wait_for_focus(page, "email")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_4_used_links_offer_a_way_on(examples, page, adapter):
    """A used confirmation link has no Confirm button but offers a new link; so does a used
    reset link."""
    base = examples.urls[adapter]
    email = f"{secrets.token_hex(4)}@example.com"
    before = len(examples.smtp.messages)
    page.goto(base + "/auth/register")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    link = examples.link(email, "confirm", before)
    page.goto(link)
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_load_state()
    page.goto(link)
    assert page.get_by_role("button", name="Confirm my address").count() == 0
    assert page.get_by_role("link", name="Send me a new confirmation link").is_visible()

    before = len(examples.smtp.messages)
    page.goto(base + "/auth/reset")
    page.locator("#email").fill(email)
    page.get_by_role("button", name="Send me a reset link").click()
    page.wait_for_load_state()
    reset = examples.link(email, "reset", before)
    page.goto(reset)
    page.locator("#password").fill(PASSWORD + " again")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_load_state()
    page.goto(reset)
    assert page.get_by_role("link", name="Send me a new reset link").is_visible()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_6_and_7_pages_know_who_is_logged_in(examples, page, adapter):
    """The login page says who is logged in; the profile speaks of the previous login."""
    base = examples.urls[adapter]
    email = examples.confirmed_user()
    log_in(page, base, email)
    page.goto(base + "/auth/login")
    assert f"You are logged in as {email}" in page.inner_text("main")
    page.goto(base + "/auth/me")
    text = page.inner_text("main")
    assert "Previous login" in text
    assert "never" not in text


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_8_dates_and_devices_read_as_people_read_them(examples, page, adapter):
    """The sessions page names the browser, not the raw User-Agent, and dates have no ISO
    time stamp with microseconds."""
    base = examples.urls[adapter]
    log_in(page, base, examples.confirmed_user())
    page.goto(base + "/auth/sessions")
    text = page.inner_text("main")
    assert "Chrome" in text
    assert "Mozilla/5.0" not in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finding_9_admin_refusal_is_a_page_and_the_layout_fits_a_phone(examples, browser, adapter):
    """A non-admin at /admin gets the 403 page in the layout, not bare text; the home page is
    readable at 390 px (a viewport tag, no sideways scroll)."""
    base = examples.urls[adapter]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto(base + "/")
        assert phone.locator('meta[name="viewport"]').count() == 1
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        log_in(phone, base, examples.confirmed_user())
        response = phone.goto(base + "/admin")
        assert response is not None
        assert response.status == 403
        assert "text/html" in response.headers["content-type"]
        assert phone.locator("h1").count() == 1
        assert phone.title().strip()
    finally:
        context.close()
