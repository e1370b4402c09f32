"""Settings are validated when built, so a bad configuration stops start-up (FT-05)."""

from datetime import timedelta

import pytest

from doorward.exceptions import ConfigurationError
from doorward.settings import Settings

SECRET = "s" * 40


def make(**kwargs: object) -> Settings:
    kwargs.setdefault("secret_keys", SECRET)
    kwargs.setdefault("base_url", "https://example.com")
    return Settings(**kwargs)  # type: ignore[arg-type]


def test_ft05_missing_secret_stops_startup():
    """An empty list of secret keys is refused at construction."""
    with pytest.raises(ConfigurationError):
        make(secret_keys=[])


def test_ft05_short_secret_stops_startup():
    """A secret shorter than 32 characters is refused, and so is one short key in a list."""
    with pytest.raises(ConfigurationError):
        make(secret_keys="short")
    with pytest.raises(ConfigurationError):
        make(secret_keys=[SECRET, "short"])


@pytest.mark.parametrize(
    "url",
    ["", "example.com", "ftp://example.com", "https://", "https://x.com/?a=1", "https://u:p@x.com"],
)
def test_ft05_bad_base_url_stops_startup(url):
    """A base URL that is not an absolute http(s) URL without query or credentials is refused."""
    with pytest.raises(ConfigurationError):
        make(base_url=url)


def test_plain_http_needs_the_development_flag_and_localhost():
    """http is allowed only with insecure_development, and that only on a loopback host."""
    with pytest.raises(ConfigurationError):
        make(base_url="http://localhost:8000")
    assert make(base_url="http://localhost:8000", insecure_development=True).cookie_secure is False
    with pytest.raises(ConfigurationError):
        make(base_url="http://example.com", insecure_development=True)


def test_pw01_minimum_length_floor_depends_on_mfa():
    """A minimum below 15 is refused unless MFA is required, which allows 8 but not 7."""
    with pytest.raises(ConfigurationError):
        make(password_min_length=14)
    assert make(password_min_length=8, require_mfa=True).password_min_length == 8
    with pytest.raises(ConfigurationError):
        make(password_min_length=7, require_mfa=True)


def test_rl01_lockout_threshold_capped_at_100():
    """NIST allows at most 100 consecutive failures before locking."""
    assert make(lockout_threshold=100).lockout_threshold == 100
    with pytest.raises(ConfigurationError):
        make(lockout_threshold=101)


def test_tk02_email_token_ages_capped_at_a_day():
    """Reset and confirm tokens cannot be configured to live more than 24 hours."""
    with pytest.raises(ConfigurationError):
        make(reset_max_age=timedelta(hours=25))
    with pytest.raises(ConfigurationError):
        make(confirm_max_age=timedelta(0))


def test_tk10_remember_lifetime_capped_at_30_days():
    """Remember-me cannot be configured beyond 30 days."""
    with pytest.raises(ConfigurationError):
        make(remember_lifetime=timedelta(days=31))


def test_links_use_the_configured_base_url():
    """Links are built from base_url and the prefix, nothing else (CR-06)."""
    assert (
        make(base_url="https://example.com/").url("/reset/x") == "https://example.com/auth/reset/x"
    )
