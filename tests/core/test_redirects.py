"""Redirect targets: only same-origin paths or allow-listed hosts (CR-04)."""

import pytest

from doorward.redirects import safe_redirect

EVIL = [
    "//evil.com",
    "\\\\evil.com",
    "/\\evil.com",
    "\\/evil.com",
    " //evil.com",
    "\t//evil.com",
    "http:\\\\evil.com",
    "https://good@evil.com",
    "https://evil.com\\.good.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.com",
    "/%2F%2Fevil.com",
    "/%5Cevil.com",
    "%5C%5Cevil.com",
    "http://2130706433",
    "http://0x7f000001",
    "https://evil.com",
    "///evil.com",
    "/\t/evil.com",
    "https://good.com@evil.com",
    "https://user:pw@good.com/",
    "evil.com",
    "",
    None,
    42,
    ["/ok"],
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", EVIL)
def test_cr04_unsafe_targets_fall_back(target):
    """Every off-site, protocol-relative, scheme-smuggling or malformed target gives the fallback."""
    assert safe_redirect(target, fallback="/home", allowed_hosts={"good.com"}) == "/home"


@pytest.mark.parametrize("target", ["/account", "/account?tab=1#x", "/a/b/c", "/"])
def test_cr04_relative_paths_pass(target):
    """Same-origin relative paths are kept as they are."""
    assert target == safe_redirect(target, fallback="/home")


def test_cr04_allowlisted_absolute_url_passes():
    """An absolute URL to an allow-listed host is kept; the same without the list is refused."""
    assert (
        safe_redirect("https://good.com/x", fallback="/", allowed_hosts={"good.com"})
        == "https://good.com/x"
    )
    assert safe_redirect("https://good.com/x", fallback="/") == "/"
