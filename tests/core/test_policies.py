"""Email, password and client-address policies (IV-01, IV-02, LE-06, PW-01..PW-04, PW-08, RL-06)."""

import unicodedata

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorward import policies
from doorward.exceptions import PasswordRejected, ValidationFailed
from doorward.policies import (
    check_new_password,
    client_ip,
    common_passwords,
    normalize_email,
    prepare_password,
)
from doorward.settings import Settings

SECRET = "s" * 40


def make_settings(**kwargs: object) -> Settings:
    kwargs.setdefault("secret_keys", SECRET)
    kwargs.setdefault("base_url", "https://shop.acme-widgets.com")
    return Settings(**kwargs)  # type: ignore[arg-type]


DEFAULT = make_settings()
MFA = make_settings(require_mfa=True, password_min_length=8)
NO_BLOCKLIST = make_settings(password_blocklist=False)
#: Letters in no particular order: no blocklist entry, no pattern.
RANDOMISH = "mqzvtkwrplxnbhdjgyfc"


class NormalizeCounter:
    """Stands in for the ``unicodedata`` module inside ``doorward.policies``."""

    def __init__(self) -> None:
        self.calls = 0

    def normalize(self, form: str, text: str) -> str:
        self.calls += 1
        return unicodedata.normalize(form, text)  # type: ignore[arg-type]

    def category(self, ch: str) -> str:
        return unicodedata.category(ch)


class StubBreachChecker:
    """A breach checker that knows a fixed set of passwords and records its calls."""

    def __init__(self, *breached: str) -> None:
        self.breached = set(breached)
        self.calls: list[str] = []

    def is_breached(self, password: str) -> bool:
        self.calls.append(password)
        return password in self.breached


# -- email ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [None, 0, 12, 1.5, True, [], ["a@example.com"], {"$gt": ""}, {"$ne": None}, b"a@x.com"]
)
def test_iv02_non_string_email_rejected(raw):
    """Anything but a string (Mongo operator objects, numbers, lists, bytes) is refused."""
    with pytest.raises(ValidationFailed) as info:
        normalize_email(raw)
    assert list(info.value.fields) == ["email"]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a@x.com,b@y.com",
        "a@x,b@y",
        "a@x.com;b@y.com",
        "a@x.com b@y.com",
        '"A" <a@x.com>',
        "A <a@x.com>",
        "<a@x.com>",
        "a@x.com\r\nBcc: b@y.com",
        "a@x.com\nBcc: b@y.com",
        "a@x.com\r",
        "a\tb@x.com",
        "a@x.com\x00",
        "a\u2028@x.com",
        "a\u200b@x.com",
        "\u202eman@x.com",
        "plainaddress",
        "@x.com",
        "a@",
        "a@@x.com",
        "a@b@x.com",
        "a@x..com",
        "a..b@x.com",
        ".a@x.com",
        '"a@b"@x.com',
        '"a b"@x.com',
        "a@localhost",
        "a@[127.0.0.1]",
        "a@x.test",
        "a@-x.com",
        "a\uff20x.com\uff20y.com",
        "a\uff0cb@x.com",
    ],
)
def test_iv01_invalid_email_corpus_rejected(raw):
    """Empty values, several addresses, display names, control characters and bad syntax fail."""
    with pytest.raises(ValidationFailed) as info:
        normalize_email(raw)
    assert list(info.value.fields) == ["email"]
    assert info.value.fields["email"][0]


@pytest.mark.parametrize(
    ("raw", "email", "key"),
    [
        ("user@example.com", "user@example.com", "user@example.com"),
        ("Foo@X.COM", "Foo@x.com", "foo@x.com"),
        ("  foo@x.com ", "foo@x.com", "foo@x.com"),
        ("\u00a0foo@x.com", "foo@x.com", "foo@x.com"),
        ("\uff46\uff4f\uff4f\uff20\uff58.\uff43\uff4f\uff4d", "foo@x.com", "foo@x.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org", None),
        ("a@BÜCHER.de", "a@bücher.de", "a@bücher.de"),
        ("a@xn--bcher-kva.de", "a@bücher.de", "a@bücher.de"),
        ("用户@例子.广告", "用户@例子.广告", "用户@例子.广告"),
        ("Straße@x.com", "Straße@x.com", "strasse@x.com"),
        ("\u212a@x.com", "K@x.com", "k@x.com"),
    ],
)
def test_iv01_valid_email_corpus(raw, email, key):
    """Valid addresses come back NFKC- and IDNA-normalised, with a casefolded key."""
    assert (email, key or email.casefold()) == normalize_email(raw)


def test_iv01_length_checked_before_any_work(monkeypatch):
    """An over-long value is refused before NFKC or the validator ever sees it."""
    counter = NormalizeCounter()
    monkeypatch.setattr(policies, "unicodedata", counter)
    monkeypatch.setattr(policies.email_validator, "validate_email", None)
    with pytest.raises(ValidationFailed):
        normalize_email("a" * 1_000_000 + "@x.com")
    with pytest.raises(ValidationFailed):
        normalize_email("a" * 250 + "@x.com")
    assert counter.calls == 0


def test_iv01_max_length_is_configurable():
    """The cap is a parameter: a 30-character address passes at 254 and fails at 20."""
    address = "a" * 24 + "@x.com"
    assert address == normalize_email(address)[0]
    with pytest.raises(ValidationFailed):
        normalize_email(address, max_length=20)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Foo@x.com", "foo@X.COM"),
        ("FOO@x.com", "\uff46\uff4f\uff4f\uff20\uff58.com"),
        ("Straße@x.com", "STRASSE@x.com"),
        ("straße@x.com", "strasse@x.com"),
        ("a@xn--bcher-kva.de", "A@Bücher.DE"),
        ("\u212a@x.com", "k@x.com"),
        ("\ufb01le@x.com", "FILE@x.com"),
    ],
)
def test_le06_case_and_compatibility_variants_share_one_key(one, other):
    """Case, width, ß/ss, IDNA and compatibility variants map to one lookup key."""
    assert normalize_email(one)[1] == normalize_email(other)[1]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("\u0131@x.com", "i@x.com"),
        ("\u0130@x.com", "i@x.com"),
        ("\u0131@x.com", "I@x.com"),
        ("\u0430dmin@x.com", "admin@x.com"),
        ("a@x.com", "a@x.co"),
        ("paypal@x.com", "paypa1@x.com"),
    ],
)
def test_le06_distinct_letters_keep_distinct_keys(one, other):
    """Dotless and dotted i, Cyrillic look-alikes and digits are different letters: no collision."""
    assert normalize_email(one)[1] != normalize_email(other)[1]


@pytest.mark.parametrize(
    "raw",
    ["Straße@x.com", "\u0130@x.com", "\uff46\uff4f\uff4f\uff20\uff58.com", "a@xn--bcher-kva.de"],
)
def test_le06_key_is_deterministic_and_email_is_the_given_address(raw):
    """The key is stable across calls and the mail address keeps what was typed (normalised)."""
    email, key = normalize_email(raw)
    assert (email, key) == normalize_email(raw)
    assert (email, key) == normalize_email(email)
    assert key == normalize_email(key)[1]
    assert unicodedata.normalize("NFKC", raw).split("@")[0] == email.split("@")[0]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.emails())
def test_iv01_valid_emails_round_trip(raw):
    """Any RFC address that validates normalises to itself, and its key is idempotent."""
    try:
        email, key = normalize_email(raw)
    except ValidationFailed:
        return
    assert (email, key) == normalize_email(email)
    assert key == normalize_email(key)[1]
    assert key == normalize_email(email.upper())[1] or not email.isascii()


_LOCAL = st.text(
    alphabet=st.characters(categories=("Lu", "Ll", "Lt", "Lo", "Nd", "Nl", "No", "Pc", "Sm", "So")),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300)
@given(_LOCAL, st.sampled_from(["example.com", "EXAMPLE.org", "bücher.de", "例子.广告"]))
def test_le06_unicode_key_is_idempotent(local, domain):
    """For any Unicode local part that validates, the key of the key is the key."""
    try:
        email, key = normalize_email(f"{local}@{domain}")
    except ValidationFailed:
        return
    assert (email, key) == normalize_email(email)
    assert key == normalize_email(key)[1]
    assert key == normalize_email(key)[0]


# -- passwords: input handling (PW-08) ---------------------------------------------------


@pytest.mark.parametrize("raw", [None, 0, 123456789012345, [], ["pw"], {"$ne": None}, b"x" * 20])
def test_iv02_non_string_password_rejected(raw):
    """Passwords must be strings; anything else is a validation error on the field."""
    with pytest.raises(ValidationFailed) as info:
        prepare_password(raw, max_length=256)
    assert list(info.value.fields) == ["password"]
    with pytest.raises(ValidationFailed):
        check_new_password(raw, DEFAULT)


def test_pw08_megabyte_password_refused_before_normalisation(monkeypatch):
    """A 1 MB password is refused on its length alone: NFKC never runs on it."""
    counter = NormalizeCounter()
    monkeypatch.setattr(policies, "unicodedata", counter)
    for raw in ("x" * 1_000_000, "\U0001f511" * 1_000_000, "x" * 257):
        with pytest.raises(ValidationFailed):
            prepare_password(raw, max_length=256)
        with pytest.raises(ValidationFailed):
            check_new_password(raw, DEFAULT)
    assert counter.calls == 0


def test_pw08_cap_is_in_code_points():
    """Exactly ``max_length`` code points pass, even of 4-byte characters; one more fails."""
    assert prepare_password("\U0001f511" * 256, max_length=256) == "\U0001f511" * 256
    with pytest.raises(ValidationFailed):
        prepare_password("\U0001f511" * 257, max_length=256)


def test_pw08_lone_surrogate_refused():
    """A string that cannot be encoded as UTF-8 never reaches the hasher."""
    with pytest.raises(ValidationFailed):
        prepare_password("abc\ud800def", max_length=256)


def test_pw_prepare_password_applies_no_policy():
    """Login input is only type- and size-checked, so a login reveals no password rule."""
    for raw in ("a", "password", "123456", "aaaa"):
        assert raw == prepare_password(raw, max_length=256)
    with pytest.raises(ValidationFailed):
        prepare_password("", max_length=256)


def test_pw_prepare_password_returns_nfkc_and_names_the_field():
    """The NFKC form is returned; errors use the given field name."""
    assert prepare_password("\ufb03 \u2460", max_length=256) == "ffi 1"
    with pytest.raises(ValidationFailed) as info:
        prepare_password(None, max_length=256, field="current_password")
    assert list(info.value.fields) == ["current_password"]


# -- passwords: length (PW-01, PW-02) ---------------------------------------------------


def test_pw01_minimum_length_boundary_14_15():
    """By default 14 code points are refused with the reason and 15 are accepted."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password(RANDOMISH[:14], DEFAULT)
    assert "at least 15" in info.value.reasons[0]
    assert RANDOMISH[:15] == check_new_password(RANDOMISH[:15], DEFAULT)


def test_pw01_minimum_length_boundary_7_8_with_mfa():
    """With require_mfa and a minimum of 8, 7 code points are refused and 8 accepted."""
    with pytest.raises(PasswordRejected):
        check_new_password(RANDOMISH[:7], MFA)
    assert RANDOMISH[:8] == check_new_password(RANDOMISH[:8], MFA)
    with pytest.raises(PasswordRejected):
        check_new_password(RANDOMISH[:8], DEFAULT)


def test_pw02_length_counted_after_nfkc():
    """Code points are counted after NFKC, whether it composes or expands the typed text."""
    pair = "e\u0301"
    assert check_new_password(pair * 15, NO_BLOCKLIST) == "\u00e9" * 15
    with pytest.raises(PasswordRejected):
        check_new_password(pair * 14, NO_BLOCKLIST)
    expanding = "\ufb00ab\ufb03qzx\u2163\u2460tk"
    assert len(expanding) == 11
    assert check_new_password(expanding, DEFAULT) == "ffabffiqzxIV1tk"


@pytest.mark.parametrize(
    "password",
    [
        "  leading and trailing spaces  ",
        "\U0001f511 my \u043a\u043b\u044e\u0447 \u5bc6\u7801 \U0001f30d \U0001f511",
        "\u00fcber-stra\u00dfe \u00e9t\u00e9 \u0645\u0631\u062d\u0628\u0627",
        "tab\tand\nnewline inside it",
        "\u00a0\u2003 odd spaces \u3000 too",
    ],
)
def test_pw02_any_unicode_and_spaces_accepted(password):
    """Spaces, emoji and any script are accepted; nothing is stripped but NFKC is applied."""
    assert unicodedata.normalize("NFKC", password) == check_new_password(password, DEFAULT)


def test_pw02_long_passwords_accepted():
    """128 and 256 code points (the default maximum) are accepted; 257 are refused."""
    phrase = "the quick brown fox jumps over a lazy dog while "
    long = (phrase * 6)[:128]
    assert long == check_new_password(long, DEFAULT)
    longest = (phrase * 6)[:256]
    assert longest == check_new_password(longest, DEFAULT)
    with pytest.raises(ValidationFailed):
        check_new_password(longest + "x", DEFAULT)


def test_pw02_expansion_beyond_maximum_refused():
    """A password short enough as typed but longer than the maximum after NFKC is refused."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password("\ufdfa" * 20, DEFAULT)
    assert "at most 256" in info.value.reasons[0]


@settings(max_examples=300)
@given(st.text(min_size=0, max_size=300))
def test_pw02_any_string_of_allowed_length_accepted(raw):
    """Without the blocklist, exactly the strings of 15..256 code points after NFKC pass."""
    expected = unicodedata.normalize("NFKC", raw)
    if len(raw) <= 256 and 15 <= len(expected) <= 256:
        assert expected == check_new_password(raw, NO_BLOCKLIST)
    else:
        with pytest.raises(ValidationFailed):
            check_new_password(raw, NO_BLOCKLIST)


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=128, max_size=256))
def test_pw02_long_strings_accepted_unless_patterned(raw):
    """With the blocklist on, long strings pass unless they are a short unit repeated."""
    expected = unicodedata.normalize("NFKC", raw)
    if len(expected) > 256 or policies._is_short_pattern(expected, 15):
        return
    assert expected == check_new_password(raw, DEFAULT)


# -- passwords: no composition rules (PW-03) -------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "purple monkeys dance quietly",
        "alllowercaseandnothingelse",
        "ALLUPPERCASEANDNOTHINGELSE",
        "739184620573918",
        "!@#$%^&*()_+{}|:<>?~",
    ],
)
def test_pw03_no_composition_rules(password):
    """One character class alone is enough: no upper/lower/digit/symbol mix is required."""
    assert password == check_new_password(password, DEFAULT)


@settings(max_examples=100)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=15, max_size=64))
def test_pw03_lowercase_only_strings_never_need_other_classes(raw):
    """No rejection reason ever asks for another character class."""
    try:
        check_new_password(raw, DEFAULT)
    except PasswordRejected as exc:
        for reason in exc.reasons:
            for word in ("upper", "digit", "number", "symbol", "special"):
                assert word not in reason.lower()


def test_pw03_settings_have_no_expiry_hint_or_composition_fields():
    """The settings schema offers no password expiry, hints, questions or composition rules."""
    names = [field.name for field in attrs.fields(Settings)]
    forbidden = (
        "expir",
        "hint",
        "question",
        "upper",
        "lower",
        "digit",
        "symbol",
        "special",
        "composition",
        "history",
        "password_max_age",
        "password_lifetime",
        "rotation",
    )
    assert [name for name in names if any(word in name for word in forbidden)] == []


# -- passwords: blocklist (PW-04) -------------------------------------------------------


def test_pw04_bundled_list_is_loaded():
    """About 3,000 lowercase entries are bundled, most common first."""
    entries = common_passwords()
    assert 3000 <= len(entries) <= 3100
    assert {"password", "123456", "qwerty", "iloveyou", "1qaz2wsx3edc4rfv"} <= entries
    assert all(entry == entry.lower() and entry.strip() == entry for entry in entries)


def test_pw04_every_bundled_entry_refused_when_long_enough():
    """Each list entry of at least the minimum length is refused as common, in any case."""
    for entry in sorted(common_passwords()):
        if len(entry) < 8:
            continue
        for settings_, variant in ((MFA, entry), (MFA, entry.upper())):
            with pytest.raises(PasswordRejected) as info:
                check_new_password(variant, settings_)
            assert any("common" in reason for reason in info.value.reasons), variant


@pytest.mark.parametrize(
    "password",
    [
        "1qaz2wsx3edc4rfv",
        "1QAZ2WSX3EDC4RFV",
        "passwordpassword",
        "iloveyou iloveyou",
        "Summer 2024!!!!!!!!",
        "P.A.S.S.W.O.R.D.1234",
        "123456789qwerty",
    ],
)
def test_pw04_common_passwords_and_derivatives_refused(password):
    """Whole-password matches, ignoring case, punctuation, edge digits and repetition, fail."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password(password, DEFAULT)
    assert "This is one of the most commonly used passwords." in info.value.reasons
    assert info.value.reasons == tuple(info.value.fields["password"])


@pytest.mark.parametrize(
    "password",
    [
        "my password is a purple horse",
        "iloveyou but not in that way",
        "qwerty keyboards are everywhere",
    ],
)
def test_pw04_common_word_inside_a_passphrase_accepted(password):
    """The match is whole-password: a common password inside a longer phrase is fine."""
    assert password == check_new_password(password, DEFAULT)


@pytest.mark.parametrize(
    "password",
    [
        "alice.smith@example.com",
        "Alice.Smith@Example.com",
        "AliceSmith 2024!!!!",
        "smith smith smith smith",
        "acme-widgets 12345!",
        "shop.acme-widgets.com",
        "Doorward Doorward 2024",
        "examplecom examplecom",
    ],
)
def test_pw04_context_words_refused(password):
    """The email, its parts, the site's host name and "doorward" cannot be the password."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password(password, DEFAULT, context=["alice.smith@example.com"])
    assert any("email address or the site name" in reason for reason in info.value.reasons)


def test_pw04_context_word_inside_a_phrase_accepted():
    """Context words are matched whole too: a phrase mentioning the name is accepted."""
    password = "alice walked to the acme widgets shop"
    assert password == check_new_password(password, DEFAULT, context=["alice.smith@example.com"])


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaaaaaaaa", "abababababababab", "abc abc abc abc abc", "1111 1111 1111 1111"],
)
def test_pw04_short_repeated_patterns_refused(password):
    """A unit of at most four characters repeated is refused with its own reason."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password(password, DEFAULT)
    assert "This password is a short pattern repeated." in info.value.reasons


def test_pw04_breach_checker_reason_and_input():
    """A stubbed breach API refusing the password gives the reason; it sees the NFKC form."""
    checker = StubBreachChecker("correct horse battery staple")
    with pytest.raises(PasswordRejected) as info:
        check_new_password("correct horse battery st\uff41ple", DEFAULT, breach_checker=checker)
    assert (info.value.reasons) == (
        "This password has appeared in a data breach. Choose another one.",
    )
    assert checker.calls == ["correct horse battery staple"]
    assert (
        check_new_password("purple monkeys dance", DEFAULT, breach_checker=checker)
        == "purple monkeys dance"
    )


def test_pw04_breach_checker_not_asked_for_refused_passwords():
    """A password already refused locally is never sent to the breach checker."""
    checker = StubBreachChecker()
    for password in ("short", "1qaz2wsx3edc4rfv"):
        with pytest.raises(PasswordRejected):
            check_new_password(password, DEFAULT, breach_checker=checker)
    assert checker.calls == []


def test_pw04_blocklist_switch_keeps_breach_checker():
    """``password_blocklist=False`` skips the bundled list but still asks the breach checker."""
    assert check_new_password("1qaz2wsx3edc4rfv", NO_BLOCKLIST) == "1qaz2wsx3edc4rfv"
    checker = StubBreachChecker("1qaz2wsx3edc4rfv")
    with pytest.raises(PasswordRejected):
        check_new_password("1qaz2wsx3edc4rfv", NO_BLOCKLIST, breach_checker=checker)


def test_pw04_reasons_reach_the_error_body():
    """The HTTP error body carries every reason under the field name."""
    with pytest.raises(PasswordRejected) as info:
        check_new_password("Doorward Doorward", DEFAULT, field="new_password")
    body = info.value.to_dict()["error"]
    assert body["code"] == "password_rejected"  # type: ignore[index]
    assert list(info.value.reasons) == body["fields"]["new_password"]  # type: ignore[index]


# -- client address (RL-06) -------------------------------------------------------------


@pytest.mark.parametrize(
    "forwarded", [None, "", "1.2.3.4", "1.2.3.4, 5.6.7.8", "evil", "::1", "10.0.0.1, 127.0.0.1"]
)
def test_rl06_forwarded_for_ignored_without_trusted_proxies(forwarded):
    """With no trusted proxy, X-Forwarded-For cannot change the key."""
    assert client_ip("198.51.100.7", forwarded, 0) == "198.51.100.7"


@pytest.mark.parametrize("spoof", ["", "1.2.3.4, ", "9.9.9.9, 8.8.8.8, ", "garbage, ", "::1,"])
def test_rl06_spoofed_prefix_does_not_change_the_key(spoof):
    """Behind one trusted proxy, entries the client wrote before the proxy's are ignored."""
    assert client_ip("10.0.0.1", spoof + "203.0.113.9", 1) == "203.0.113.9"


def test_rl06_nth_entry_from_the_right():
    """Behind two proxies the second entry from the right is the client."""
    chain = "6.6.6.6, 198.51.100.1, 10.0.0.2"
    assert client_ip("10.0.0.3", chain, 2) == "198.51.100.1"
    assert client_ip("10.0.0.3", chain, 1) == "10.0.0.2"


@pytest.mark.parametrize("forwarded", [None, "", "203.0.113.9", "unknown, 10.0.0.2", "x, ,"])
def test_rl06_missing_or_invalid_entry_falls_back_to_the_socket(forwarded):
    """Too few entries or a non-IP entry yields the socket address, not the header."""
    assert client_ip("10.0.0.1", forwarded, 2) == "10.0.0.1"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("203.0.113.9:5678", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
    ],
)
def test_rl06_addresses_are_canonical(entry, expected):
    """Ports, brackets, case and IPv4-mapped forms give one key per address."""
    assert expected == client_ip("10.0.0.1", entry, 1)
    assert expected == client_ip(entry, None, 0)


def test_rl06_non_ip_remote_addr_kept():
    """A remote address that is no IP (a test client, a unix socket) is passed through."""
    assert client_ip("testclient", "1.2.3.4", 0) == "testclient"
    assert client_ip(None, None, 0) is None
    assert client_ip(None, "1.2.3.4", 1) == "1.2.3.4"


def test_le06_email_key_matches_normalize_email():
    """``email_key`` of a stored address equals the key ``normalize_email`` gave for it."""
    for raw in ("Straße@x.com", "Foo@Example.com", "\u0130@x.com"):
        email, key = normalize_email(raw)
        assert policies.email_key(email) == key


@settings(max_examples=300)
@given(st.text(max_size=80), st.sampled_from(["", "@", "a@", "@x.com", "@[", "@xn--", "\r\n"]))
def test_iv01_arbitrary_text_fails_only_with_validation_errors(text, extra):
    """Any text either normalises or raises ``ValidationFailed``, never another error."""
    for raw in (text, text + extra, extra + text):
        try:
            email, key = normalize_email(raw)
        except ValidationFailed:
            continue
        assert email.count("@") == 1
        assert key == normalize_email(email)[1]


@given(st.text(max_size=60), st.text(max_size=60), st.integers(min_value=0, max_value=3))
def test_rl06_client_ip_never_raises_nor_trusts_the_header_without_proxies(remote, header, count):
    """Arbitrary header text never raises, and with no trusted proxy it is never used."""
    result = client_ip(remote, header, count)
    if count == 0:
        assert result == client_ip(remote, None, 0)
