"""The pages the journey does not reach, in a real browser with the checks of ``Tab.check``
(no 5xx, no console error, every input labelled, no dangling ARIA reference, no serious or
critical axe-core violation), each in the light and the dark scheme:

- the unlock page of a lock notice, and the login page it leads to;
- the sign-in link of a sign-in code mail, the second step after it (a recovery code) and
  the used link's page; the authenticator set-up's recovery codes on the way;
- a sign-in with an OpenID Connect provider (oidc-provider-mock): the login page's provider
  buttons, the linked accounts page, the re-auth page of an account without a password,
  linking from the accounts page, and both refusals (an address another account owns, an
  address the provider has not verified);
- the example apps' own layout: home, /account, a doorward page wearing it, and the 403 page
  of /admin.

Screenshots go to the test's ``tmp_path`` (``unlock-flask-01-login-locked.png``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from doorward import Argon2Params, Auth, Settings
from doorward._sync.mailers import Outbox
from doorward.testing.smtp import SmtpServer
from doorward_sqlalchemy import SQLAlchemyStore, default_models
from doorward_sqlalchemy.models import Base
from tests.e2e.conftest import PASSWORD, Tab, _running, mailed_link, tab

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is in requirements/e2e.txt"
)
provider_module = pytest.importorskip("tests.oauth.provider", reason="needs oidc-provider-mock")

ADAPTERS = ["flask", "starlette"]
HOME = re.compile(r".*:\d+/$")


@attrs.define
class Servers:
    """Both adapters with the mock provider configured, on the e2e apps' database."""

    urls: dict[str, str]
    smtp: SmtpServer
    auth: Auth
    provider: Any

    def confirmed_user(self, name: str) -> str:
        email = f"{name}-{secrets.token_hex(3)}@example.com"
        self.auth.create_user(email, PASSWORD, confirmed=True)
        return email

    def mailed(self, to: str, path: str, before: int) -> str:
        """The newest link under ``/auth/<path>/`` mailed to ``to`` after ``before`` mails."""
        return mailed_link(self.smtp, to, path, before)


@pytest.fixture(scope="module")
def servers(postgres_database: Any) -> Iterator[Servers]:
    engine = sa.create_engine(postgres_database)
    Base.metadata.create_all(engine)
    settings = Settings(
        secret_keys=secrets.token_urlsafe(32),
        base_url="http://127.0.0.1",
        insecure_development=True,
        argon2=Argon2Params.insecure_for_tests(),
    )
    auth = Auth(settings, SQLAlchemyStore(engine, default_models()), mailer=Outbox())
    database = postgres_database.render_as_string(hide_password=False)
    with provider_module.running_provider() as provider:
        environment = {
            "DOORWARD_E2E_DATABASE_URL": database,
            "DOORWARD_E2E_OIDC_ISSUER": provider.url,
        }
        with _running(environment) as (flask_url, starlette_url, smtp):
            urls = {"flask": flask_url, "starlette": starlette_url}
            yield Servers(urls=urls, smtp=smtp, auth=auth, provider=provider)
    engine.dispose()


def check_both(t: Tab, step: str) -> None:
    """``Tab.check`` in the light scheme, then in the dark one."""
    t.check(step)
    t.page.emulate_media(color_scheme="dark")
    try:
        t.check(f"{step}-dark")
    finally:
        t.page.emulate_media(color_scheme="light")


def log_in(t: Tab, email: str, password: str = PASSWORD) -> None:
    t.page.get_by_label("Email", exact=True).fill(email)
    t.page.get_by_label("Password", exact=True).fill(password)
    t.submit("Log in")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_unlock_page(servers, browser, axe_script, adapter, tmp_path):
    """Ten wrong passwords lock the account and mail an unlock link; its page unlocks once,
    and the login page then says so."""
    base = servers.urls[adapter]
    email = servers.confirmed_user("locked")
    with tab(browser, axe_script, tmp_path, f"unlock-{adapter}") as t:
        page = t.page
        page.goto(f"{base}/auth/login")
        before = len(servers.smtp.messages)
        for attempt in range(10):
            log_in(t, email, f"wrong password number {attempt}")
        assert page.locator(".alert").is_visible()
        check_both(t, "login-locked")
        link = servers.mailed(email, "unlock", before)
        page.goto(link)
        assert page.get_by_role("heading", name="Unlock your account").is_visible()
        check_both(t, "unlock")
        t.submit("Unlock my account")
        assert "/auth/login" in page.url
        assert page.get_by_text("Your account is unlocked").is_visible()
        check_both(t, "unlocked")
        page.goto(link)
        t.submit("Unlock my account")
        assert page.locator(".alert").is_visible()
        assert page.get_by_role("button", name="Unlock my account").count() == 0
        assert page.get_by_role("link", name="Forgot your password?").is_visible()
        check_both(t, "unlock-used")
        page.goto(f"{base}/auth/login")
        log_in(t, email)
        page.wait_for_url(HOME)


def _turn_on_authenticator(t: Tab) -> str:
    """Set up TOTP from the MFA page; a recovery code from the page that follows."""
    import pyotp

    page = t.page
    t.follow("Manage second factors")
    t.submit("Set up an authenticator app")
    secret = page.locator("main code").inner_text().strip()
    page.get_by_label("The 6-digit code the app shows", exact=True).fill(pyotp.TOTP(secret).now())
    t.submit("Turn on")
    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    check_both(t, "recovery-codes")
    return page.locator("ul.codes code").first.inner_text().strip()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_sign_in_link_and_second_step(servers, browser, axe_script, adapter, tmp_path):
    """An account with an authenticator app signs in with the link of a sign-in code mail:
    the link's page, the second step (a recovery code), and the used link's page."""
    base = servers.urls[adapter]
    email = servers.confirmed_user("link")
    with tab(browser, axe_script, tmp_path, f"link-{adapter}") as t:
        page = t.page
        page.goto(f"{base}/auth/login")
        log_in(t, email)
        page.goto(f"{base}/auth/account")
        recovery = _turn_on_authenticator(t)
        page.goto(f"{base}/auth/me")
        t.submit("Log out")

        page.goto(f"{base}/auth/login/code")
        page.get_by_label("Email", exact=True).fill(email)
        before = len(servers.smtp.messages)
        t.submit("Email me a sign-in code")
        link = servers.mailed(email, "login/link", before)
        page.goto(link)
        assert page.get_by_role("button", name="Sign in").is_visible()
        check_both(t, "login-link")
        t.submit("Sign in")
        assert page.get_by_role("heading", name="Enter your code").is_visible()
        check_both(t, "login-mfa")
        page.get_by_label(re.compile("^Code from your authenticator app")).fill(recovery)
        t.submit("Continue")
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/reauth")
        check_both(t, "reauth")

        page.goto(link)
        t.submit("Sign in")
        assert page.get_by_role("link", name="Send me a new sign-in code").is_visible()
        check_both(t, "login-link-used")


def _approving(t: Tab, provider: Any, who: dict[str, str]) -> None:
    """Approve at the provider as ``who["sub"]`` for the browser, which goes on straight to
    the callback (the mock's own page loads a stylesheet from the internet; a route sees
    only the first request of a redirect chain, so doorward's redirect is the one rewritten)."""

    def approve(route: Any) -> None:
        answer = route.fetch(max_redirects=0)
        callback = provider.authorize(answer.headers["location"], who["sub"])
        route.fulfill(response=answer, headers={**answer.headers, "location": callback})

    t.page.route(re.compile(r".*/auth/oauth/mock/(login|link)$"), approve)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_oauth_pages(servers, browser, axe_script, adapter, tmp_path):
    """Sign up with the provider; the linked accounts and re-auth pages of an account without
    a password; both refusals; a password account logs in from the refusal and links it."""
    base = servers.urls[adapter]
    provider = servers.provider
    newcomer, taken, unverified = (f"{adapter}-{secrets.token_hex(4)}" for _ in range(3))
    owner = servers.confirmed_user("owner")
    provider.set_user(newcomer, email=f"{newcomer}@example.com", email_verified=True)
    provider.set_user(taken, email=owner, email_verified=True)
    provider.set_user(unverified, email=f"{unverified}@example.com", email_verified=False)
    who = {"sub": newcomer}
    with tab(browser, axe_script, tmp_path, f"oauth-{adapter}") as t:
        page = t.page
        _approving(t, provider, who)
        page.goto(f"{base}/auth/login")
        assert page.get_by_role("region", name="Sign in with a provider").is_visible()
        check_both(t, "login-providers")
        t.follow("the test provider")
        page.wait_for_url(HOME)
        page.goto(f"{base}/auth/oauth/accounts")
        assert page.get_by_text(f"{newcomer}@example.com").is_visible()
        assert page.get_by_text("This is your only way to sign in").is_visible()
        check_both(t, "oauth-accounts")
        page.goto(f"{base}/auth/reauth")
        assert page.get_by_text("Your account has no password").is_visible()
        check_both(t, "reauth-without-password")
        page.goto(f"{base}/auth/me")
        t.submit("Log out")

        who["sub"] = unverified
        page.goto(f"{base}/auth/login")
        t.follow("the test provider")
        assert page.get_by_role("heading", name="Could not sign you in").is_visible()
        check_both(t, "oauth-refused")
        who["sub"] = taken
        page.goto(f"{base}/auth/login")
        t.follow("the test provider")
        assert page.get_by_role("heading", name="Log in to link this account").is_visible()
        check_both(t, "oauth-link-required")

        with page.expect_navigation():
            page.get_by_role("main").get_by_role("link", name="Log in", exact=True).click()
        log_in(t, owner)
        assert page.url.endswith("/auth/oauth/accounts")
        assert page.get_by_text("No account of a provider is linked.").is_visible()
        check_both(t, "oauth-accounts-none")
        t.submit("Link the test provider")
        assert page.get_by_role("button", name="Unlink").is_visible()
        check_both(t, "oauth-linked")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_example_layout(examples, browser, axe_script, adapter, tmp_path):
    """The example apps' layout around their own pages and doorward's: home, login,
    /account, and the 403 page of /admin for an account without the admin role."""
    base = examples.urls[adapter]
    email = examples.confirmed_user()
    with tab(browser, axe_script, tmp_path, f"examples-{adapter}") as t:
        page = t.page
        page.goto(f"{base}/")
        check_both(t, "home")
        t.follow("Log in")
        check_both(t, "login")
        log_in(t, email)
        page.goto(f"{base}/account")
        assert page.get_by_role("heading", name="Your account").is_visible()
        assert page.locator(".who").get_by_role("button", name="Log out").is_visible()
        check_both(t, "account")
        response = page.goto(f"{base}/admin")
        assert response is not None
        assert response.status == 403
        check_both(t, "admin-refused")


@pytest.mark.parametrize("adapter", ["flask", "starlette"])
def test_the_403_page_of_an_app_route_wears_the_app_layout(
    examples, browser, axe_script, tmp_path, adapter
):
    """The refusal of /admin in the example's layout, its navigation knowing who is logged
    in, as doorward's own error pages are; its Log out form works (it carries a token)."""
    base = examples.urls[adapter]
    with tab(browser, axe_script, tmp_path, f"examples-403-{adapter}") as t:
        t.page.goto(f"{base}/auth/login")
        log_in(t, examples.confirmed_user())
        response = t.page.goto(f"{base}/admin")
        assert response is not None
        assert response.status == 403
        assert t.page.locator("nav[aria-label=Site]").count() == 1
        assert t.page.locator(".who").get_by_role("button", name="Log out").is_visible()
        t.check("admin-refused-in-layout")
        t.submit("Log out")
        t.page.goto(f"{base}/account")
        assert "/auth/login" in t.page.url
