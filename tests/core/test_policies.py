"""Email and password policies, and the client address used for rate limits."""

import unicodedata

import attrs
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from doorward import policies
from doorward.exceptions import PasswordRejected, ValidationFailed
from doorward.policies import check_new_password, client_ip, normalize_email, prepare_password
from doorward.settings import Settings

SETTINGS = Settings(secret_keys="p" * 40, base_url="https://shop.example.com")


@pytest.mark.parametrize(
    "bad",
    [
        "a@x.com,b@y.com",
        "a@x.com b@y.com",
        "a@x.com;b@y.com",
        '"Alice" <a@x.com>',
        "a@x.com\r\nBcc: b@y.com",
        "a@x.com\nb",
        "a\x00@x.com",
        "no-at-sign",
        "@x.com",
        "a@",
        "",
        "   ",
        {"$gt": ""},
        ["a@x.com"],
        12,
        None,
        "a" * 250 + "@x.com",
    ],
)
def test_iv01_bad_addresses_refused(bad):
    """Lists, display names, CR/LF and control characters, non-strings and long input are refused."""
    with pytest.raises(ValidationFailed) as info:
        normalize_email(bad)
    assert list(info.value.fields) == ["email"]


def test_iv01_nfkc_and_idna():
    """A fullwidth ＠ and an upper-case or Unicode domain are normalised."""
    assert normalize_email("alice＠EXAMPLE.com") == ("alice@example.com", "alice@example.com")
    email, key = normalize_email("Bob@Bücher.DE")
    assert email == "Bob@bücher.de"
    assert key == "bob@bücher.de"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Alice@example.com", "alice@EXAMPLE.COM"),
        ("STRASSE@example.com", "straße@example.com"),
        ("alice@example.com", "ａｌｉｃｅ@example.com"),
    ],
)
def test_le06_spellings_share_one_key(a, b):
    """Case, ß/ss and fullwidth spellings of one address map to one lookup key."""
    assert normalize_email(a)[1] == normalize_email(b)[1]


def test_le06_dotless_i_is_not_i():
    """The dotless ı does not fold to i: those are different accounts, never confused."""
    assert normalize_email("admın@example.com")[1] != normalize_email("admin@example.com")[1]


def test_le06_stored_address_kept_as_typed():
    """The address kept for mailing keeps the user's local part; only the key folds."""
    email, key = normalize_email("Alice.Smith@Example.com")
    assert email == "Alice.Smith@example.com"
    assert key == "alice.smith@example.com"


@hsettings(max_examples=150, deadline=None)
@given(
    local=st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9]", fullmatch=True),
    domain=st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,5})?\.(com|org|de|io)", fullmatch=True),
)
def test_iv01_valid_addresses_round_trip(local, domain):
    """Valid addresses are accepted, and normalising the result again changes nothing."""
    if ".." in local:
        return
    email, key = normalize_email(f"{local}@{domain}")
    assert (email, key) == normalize_email(email)
    assert key == normalize_email(key)[1]


def test_pw01_minimum_length_boundaries():
    """14 code points are refused and 15 accepted; with MFA required, 7 refused and 8 accepted."""
    with pytest.raises(PasswordRejected):
        check_new_password("q" * 13 + "zx", attrs.evolve(SETTINGS, password_min_length=16))
    with pytest.raises(PasswordRejected):
        check_new_password("vbnmqwerasdfzx"[:14], SETTINGS)
    assert check_new_password("vbnmqwerasdfzxc", SETTINGS)
    mfa = attrs.evolve(SETTINGS, require_mfa=True, password_min_length=8)
    with pytest.raises(PasswordRejected):
        check_new_password("vbnmqwe", mfa)
    assert check_new_password("vbnmqwex", mfa)


@hsettings(max_examples=200, deadline=None)
@given(st.text(min_size=15, max_size=200))
def test_pw02_any_characters_accepted(password):
    """Any Unicode, spaces and emoji are accepted when long enough after NFKC; length counts code points."""
    folded = unicodedata.normalize("NFKC", password)
    if len(folded) < 15 or len(folded) > 256 or folded.casefold() in policies.common_passwords():
        return
    if folded.casefold() in {"doorward", "password", "shop.example.com", "shop"}:
        return
    assert folded == check_new_password(password, SETTINGS)


def test_pw02_long_passwords_accepted():
    """A 128-character and a 256-character password are accepted; 257 is refused."""
    assert check_new_password("correct horse " * 9 + "xy", SETTINGS)
    assert check_new_password("ü" * 256, SETTINGS)
    with pytest.raises(ValidationFailed):
        check_new_password("ü" * 257, SETTINGS)


def test_pw02_length_after_nfkc():
    """Length is counted after NFKC: a ligature counts as the letters it stands for."""
    assert len(check_new_password("ﬁ" * 7 + "x", SETTINGS)) == 15


def test_pw03_no_composition_rules_or_expiry():
    """An all-lowercase passphrase passes; settings have no expiry, hint or question fields."""
    assert check_new_password("purple monkey dishwasher", SETTINGS)
    names = {a.name for a in attrs.fields(Settings)}
    assert not {n for n in names if any(w in n for w in ("expir", "hint", "question", "rotate"))}


def test_pw04_blocklist_and_context_with_reasons():
    """Common passwords, the user's email and the site's name are refused with a reason each."""
    common = min(p for p in policies.common_passwords() if len(p) >= 15)
    with pytest.raises(PasswordRejected) as info:
        check_new_password(common.upper(), SETTINGS)
    assert any("common" in r for r in info.value.reasons)
    with pytest.raises(PasswordRejected) as info:
        check_new_password(
            "alice.long.name@example.com", SETTINGS, context=["alice.long.name@example.com"]
        )
    assert any("email" in r for r in info.value.reasons)
    with pytest.raises(PasswordRejected):
        check_new_password(
            "password", attrs.evolve(SETTINGS, require_mfa=True, password_min_length=8)
        )
    assert len(policies.common_passwords()) >= 3000


def test_pw04_breach_checker():
    """A configured breach checker's verdict refuses the password with its own reason."""

    class Breached:
        def __init__(self):
            self.asked = []

        def is_breached(self, password):
            self.asked.append(password)
            return password.startswith("leaked")

    checker = Breached()
    with pytest.raises(PasswordRejected) as info:
        check_new_password("leaked but long enough", SETTINGS, breach_checker=checker)
    assert any("breach" in r for r in info.value.reasons)
    assert check_new_password("fine and long enough", SETTINGS, breach_checker=checker)
    assert checker.asked == ["leaked but long enough", "fine and long enough"]


def test_pw08_megabyte_refused_before_normalising(monkeypatch):
    """A 1 MB password is refused before NFKC normalisation runs."""
    calls = []
    real = unicodedata.normalize
    monkeypatch.setattr(
        policies.unicodedata, "normalize", lambda f, s: calls.append(1) or real(f, s)
    )
    for check in (
        lambda: prepare_password("x" * 1_000_000, max_length=256),
        lambda: check_new_password("x" * 1_000_000, SETTINGS),
    ):
        with pytest.raises(ValidationFailed):
            check()
    assert calls == []


@pytest.mark.parametrize("bad", [None, 123, ["pw"], {"$ne": None}, b"bytes", ""])
def test_iv02_password_must_be_a_string(bad):
    """Passwords of other types are refused with a field message."""
    with pytest.raises(ValidationFailed) as info:
        prepare_password(bad, max_length=256)
    assert "password" in info.value.fields


def test_rl06_forwarded_for_only_from_trusted_proxies():
    """X-Forwarded-For is ignored without trusted proxies; with one, its last entry is used."""
    assert client_ip("10.0.0.1", "203.0.113.5", 0) == "10.0.0.1"
    assert client_ip("10.0.0.1", "198.51.100.1, 203.0.113.5", 1) == "203.0.113.5"
    assert client_ip("10.0.0.1", "198.51.100.1, 203.0.113.5", 2) == "198.51.100.1"
    assert client_ip("10.0.0.1", "not-an-ip", 1) == "10.0.0.1"
    assert client_ip("10.0.0.1", "203.0.113.5", 2) == "10.0.0.1"
