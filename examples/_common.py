"""What both example apps share: configuration from the environment, and the page layout
(``templates/layout.html``, worn by doorward's pages too)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from doorward import Settings
from doorward.oauth import OAuthProvider

#: The layout of both apps' pages and of doorward's pages (``templates/layout.html``).
LAYOUT = "layout.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"

PAGES = {
    "home": (
        "Welcome",
        (
            "<p>This page is public. Both example apps share one user base: register here, "
            "confirm with the link printed in the terminal, then log in on either app and "
            "follow the link to the other one. No password at hand? "
            '<a href="/auth/login/code">Email me a sign-in code</a>.</p>'
        ),
    ),
    "account": (
        "Your account",
        (
            "<p>Only logged-in users see this page. Manage your sign-in at the "
            '<a href="/auth/account">account center</a>; add an authenticator app or a '
            'passkey at <a href="/auth/mfa">two-factor and passkeys</a> (optional here).</p>'
        ),
    ),
    "admin": ("Admin", "<p>Only users with the <code>admin</code> role see this page.</p>"),
}


def settings_from_env(default_base_url: str) -> Settings:
    """Settings from DOORWARD_SECRET_KEY and DOORWARD_BASE_URL (plain http only on localhost)."""
    secret = os.environ.get("DOORWARD_SECRET_KEY")
    if not secret:
        raise SystemExit("set DOORWARD_SECRET_KEY (48 random characters; scripts/demo makes one)")
    base_url = os.environ.get("DOORWARD_BASE_URL", default_base_url)
    host = urlsplit(base_url).hostname or ""
    local_http = base_url.startswith("http://") and host in {"127.0.0.1", "localhost", "::1"}
    return Settings(
        secret_keys=secret,
        base_url=base_url,
        insecure_development=local_http,
        oauth_providers=oidc_provider(),
        sign_in_by_email=True,
        app_clients=True,
        page_layout=LAYOUT,
    )


def oidc_provider() -> tuple[OAuthProvider, ...]:
    """An OpenID Connect provider named ``oidc`` when DOORWARD_OIDC_ISSUER, _CLIENT_ID and
    _CLIENT_SECRET are set (``scripts/demo --oidc`` starts a local test provider)."""
    issuer = os.environ.get("DOORWARD_OIDC_ISSUER")
    client_id = os.environ.get("DOORWARD_OIDC_CLIENT_ID")
    secret = os.environ.get("DOORWARD_OIDC_CLIENT_SECRET")
    if not (issuer and client_id and secret):
        return ()
    label = os.environ.get("DOORWARD_OIDC_LABEL", "the OpenID provider")
    return (
        OAuthProvider(
            name="oidc", issuer=issuer, client_id=client_id, client_secret=secret, label=label
        ),
    )


def database_url() -> str:
    """DOORWARD_DATABASE_URL, by default a SQLite file in the working directory."""
    return os.environ.get("DOORWARD_DATABASE_URL", "sqlite:///doorward-demo.sqlite3")


def async_database_url(url: str) -> str:
    """The async driver's URL for the same database."""
    for sync, asynchronous in (
        ("sqlite:///", "sqlite+aiosqlite:///"),
        ("postgresql://", "postgresql+psycopg://"),
        ("mysql+pymysql://", "mysql+aiomysql://"),
    ):
        if url.startswith(sync):
            return asynchronous + url.removeprefix(sync)
    return url


def other_app() -> tuple[str, str]:
    """The URL and name of the other example app, for the cross links."""
    return os.environ.get("DOORWARD_OTHER_APP_URL", ""), os.environ.get(
        "DOORWARD_OTHER_APP_NAME", ""
    )
