"""Redirect targets are same-origin paths or allow-listed hosts only (CR-04)."""

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doorward.redirects import safe_redirect

FALLBACK = "/account"
ALLOWED = ("good.com", "app.good.com:8443")


def redirect(target: object) -> str:
    return safe_redirect(target, fallback=FALLBACK, allowed_hosts=ALLOWED)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "\\\\evil.com",
        "\\\\\\evil.com",
        "/\\evil.com",
        "\\/evil.com",
        " //evil.com",
        "\t//evil.com",
        "\n//evil.com",
        "\x00//evil.com",
        "/\t/evil.com",
        "/\r\n/evil.com",
        "http:\\\\evil.com",
        "http:\\\\\\evil.com",
        "https:\\\\good.com",
        "https://good@evil.com",
        "https://good.com@evil.com",
        "https://good.com:x@evil.com",
        "https://evil.com\\.good.com",
        "https://evil.com\\@good.com",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "%2F%2Fevil.com",
        "/%2F%2Fevil.com",
        "/%2fevil.com",
        "/%5Cevil.com",
        "/%5cevil.com",
        "%5C%5Cevil.com",
        "/%252F%252Fevil.com",
        "/%25252F%25252Fevil.com",
        "/%09/evil.com",
        "/%0d%0a/evil.com",
        "http://2130706433",
        "http://0x7f000001",
        "http://127.0.0.1",
        "http://017700000001",
        "http://[::1]/",
        "https://3627734734/",
        "///evil.com",
        "////evil.com",
        "/ /evil.com\t",
        "https://evil.com",
        "https://evil.com/good.com",
        "https://good.com.evil.com",
        "https://evil.good.com",
        "https://good.com:8443/",
        "https:/good.com",
        "https:good.com",
        "ftp://good.com/",
        "//good.com",
        "evil.com",
        "account",
        "./account",
        "../account",
        "?next=//evil.com",
        "#frag",
        "",
        "\u3000//evil.com",
        "/\u2028/evil.com",
        "/\u200b/evil.com",
        "https://good.com\u2029/x",
        "/" + "a" * 3000,
        "https://[",
        "https://[good.com]/",
        "https://good.com:99999/",
        "/%2F/evil.com",
    ],
)
def test_cr04_unsafe_targets_give_the_fallback(target):
    """Every known open-redirect trick yields the fallback."""
    assert redirect(target) == FALLBACK


@pytest.mark.parametrize("target", [None, 0, 1, 1.5, True, [], ["/account"], {"$ne": ""}, b"/x"])
def test_cr04_non_string_targets_give_the_fallback(target):
    """Anything but a string is refused."""
    assert redirect(target) == FALLBACK


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/account?x=1",
        "/account?x=1&y=%2F%2Fnot-a-host#top",
        "/search?q=a%20b",
        "/search?q=a b",
        "/caf\u00e9",
        "/a/b/../c",
        "/.well-known/x",
        "/@evil.com",
        "/evil.com",
    ],
)
def test_cr04_same_origin_paths_pass(target):
    """Relative paths starting with one slash are returned unchanged."""
    assert redirect(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "https://good.com",
        "https://good.com/",
        "https://good.com/welcome?x=1#y",
        "http://good.com/plain",
        "HTTPS://GOOD.COM/shout",
        "https://app.good.com:8443/path",
    ],
)
def test_cr04_allowlisted_absolute_urls_pass(target):
    """Absolute http(s) URLs whose host (and port) is allow-listed are returned unchanged."""
    assert redirect(target) == target


def test_cr04_absolute_urls_need_an_allowlist():
    """Without allowed hosts no absolute URL passes, not even the site's own."""
    assert safe_redirect("https://good.com/", fallback="/") == "/"
    assert safe_redirect("/ok", fallback="/") == "/ok"


def test_cr04_fallback_returned_as_given():
    """The fallback is trusted and returned verbatim."""
    assert safe_redirect("//evil.com", fallback="https://good.com/home") == "https://good.com/home"


@given(st.text(max_size=40))
def test_cr04_result_is_always_relative_or_allowlisted(suffix):
    """Whatever follows a slash, the result never names a foreign host."""
    for prefix in ("/", "//", "\\", "https://", "http://good.com", ""):
        result = redirect(prefix + suffix)
        if result == FALLBACK:
            continue
        assert "\\" not in result
        if result.startswith("/"):
            assert not result.startswith("//")
            assert urlsplit(unquote(unquote(result))).netloc == ""
        else:
            assert urlsplit(result).hostname == "good.com"
