"""Token formats: purposes, expiry, rotation, malformed input, payload privacy, credential secrets, CSRF."""

import base64
import json
from datetime import timedelta

import pytest

from doorward.clock import FrozenClock
from doorward.exceptions import InvalidToken
from doorward.tokens import (
    PURPOSES,
    CredentialSecrets,
    CsrfTokens,
    EmailTokens,
    SessionSnapshots,
    hash_secret,
)

OLD = "old-secret-key-0123456789-0123456789"
NEW = "new-secret-key-0123456789-0123456789"
DAY = timedelta(days=1)


def test_tk01_each_purpose_rejects_the_others():
    """A token made for one purpose is refused by every other purpose."""
    tokens = EmailTokens([NEW])
    for made in PURPOSES:
        token = tokens.dumps(made, "42", "stamp")
        for used in PURPOSES:
            if used == made:
                assert ["42", tokens.fingerprint("stamp")] == tokens.loads(used, token, max_age=DAY)
            else:
                with pytest.raises(InvalidToken):
                    tokens.loads(used, token, max_age=DAY)


def test_tk01_credential_kinds_reject_each_other():
    """A session secret is not a remember-me or API secret, and vice versa."""
    creds = CredentialSecrets([NEW])
    for made in ("session", "remember", "api"):
        token, stored = creds.new(made)
        for used in ("session", "remember", "api"):
            expected = stored if used == made else None
            assert expected == creds.secret_hash(used, token)


def test_tk02_max_age_required_and_exact():
    """Loading needs max_age; a token is valid at exactly max_age and refused one second later."""
    clock = FrozenClock()
    tokens = EmailTokens([NEW], clock)
    token = tokens.dumps("reset", "1", "s")
    with pytest.raises(TypeError):
        tokens.loads("reset", token, max_age=None)  # type: ignore[arg-type]
    clock.advance(3600)
    assert tokens.loads("reset", token, max_age=timedelta(hours=1))
    clock.advance(1)
    with pytest.raises(InvalidToken):
        tokens.loads("reset", token, max_age=timedelta(hours=1))


def test_tk02_future_tokens_refused():
    """A token stamped in the future (clock skew, forgery with a key) is refused."""
    clock = FrozenClock()
    tokens = EmailTokens([NEW], clock)
    clock.advance(3600)
    token = tokens.dumps("reset", "1", "s")
    clock.advance(-7200)
    with pytest.raises(InvalidToken):
        tokens.loads("reset", token, max_age=DAY)


@pytest.mark.parametrize(
    "bad", ["", " ", 0, None, [], {}, {"$ne": None}, "abc", "x" * 10_000, "ünïcode.token.x"]
)
def test_tk05_malformed_tokens_rejected(bad):
    """Empty, typed, operator-shaped, short, huge and non-ASCII tokens are refused."""
    tokens = EmailTokens([NEW])
    with pytest.raises(InvalidToken):
        tokens.loads("confirm", bad, max_age=DAY)
    assert CredentialSecrets([NEW]).secret_hash("session", bad) is None


def test_tk05_truncated_token_rejected():
    """Cutting the last characters of a valid token makes it invalid."""
    tokens = EmailTokens([NEW])
    token = tokens.dumps("confirm", "1", "a@example.com")
    with pytest.raises(InvalidToken):
        tokens.loads("confirm", token[:-3], max_age=DAY)
    session, _ = CredentialSecrets([NEW]).new("session")
    assert CredentialSecrets([NEW]).secret_hash("session", session[:-2]) is None


def test_tk07_key_rotation():
    """The newest key signs; old tokens verify while their key is listed, then die."""
    old_token = EmailTokens([OLD]).dumps("reset", "1", "stamp")
    rotated = EmailTokens([OLD, NEW])
    assert rotated.loads("reset", old_token, max_age=DAY)
    new_token = rotated.dumps("reset", "1", "stamp")
    assert EmailTokens([NEW]).loads("reset", new_token, max_age=DAY)
    with pytest.raises(InvalidToken):
        EmailTokens([NEW]).loads("reset", old_token, max_age=DAY)
    assert rotated.matches(EmailTokens([OLD]).fingerprint("stamp"), "stamp")
    old_session, stored = CredentialSecrets([OLD]).new("session")
    assert stored == CredentialSecrets([OLD, NEW]).secret_hash("session", old_session)
    assert CredentialSecrets([NEW]).secret_hash("session", old_session) is None


def test_tk08_payload_has_no_pii():
    """The readable payload holds the user id and fingerprints, never the email or stamp."""
    tokens = EmailTokens([NEW])
    email, stamp = "alice@example.com", "the-security-stamp-value"
    token = tokens.dumps("change_email", "7", stamp, email)
    body = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    assert ["7", tokens.fingerprint(stamp), tokens.fingerprint(email)] == json.loads(decoded)
    assert "alice" not in decoded
    assert stamp not in decoded


def test_tk09_credential_secrets_random_and_stored_hashed():
    """Secrets carry at least 128 random bits, differ every time, and only their hash is stored."""
    creds = CredentialSecrets([NEW])
    token, stored = creds.new("api")
    assert token.startswith("dw_")
    raw = token[3:].rsplit(".", 1)[0]
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) * 8 >= 128
    assert stored == hash_secret(raw)
    assert raw not in stored
    assert len({creds.new("api")[0] for _ in range(50)}) == 50


def test_cr01_csrf_tokens():
    """A CSRF token matches only its own cookie; rotation keeps old tokens valid while listed."""
    csrf = CsrfTokens([OLD])
    cookie = csrf.new_cookie()
    token = csrf.token_for(cookie)
    assert csrf.check(cookie, token)
    assert not csrf.check(csrf.new_cookie(), token)
    assert not csrf.check(cookie, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not csrf.check(cookie, None)
    assert not csrf.check("", "")
    assert CsrfTokens([OLD, NEW]).check(cookie, token)
    assert not CsrfTokens([NEW]).check(cookie, token)


PADDED = ("=", "==", "===", "==A", "=A", "A", "\n")


def _stray_bit(token: str) -> str:
    """The token with an unused low bit of its last base64 character set (decodes the same)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]


@pytest.mark.parametrize("suffix", PADDED)
def test_tk05_padded_email_tokens_rejected(suffix):
    """A mailed token of any purpose with padding or a character appended is refused."""
    tokens = EmailTokens([NEW])
    for purpose in PURPOSES:
        token = tokens.dumps(purpose, "42", "stamp")
        assert tokens.loads(purpose, token, max_age=DAY)[0] == "42"
        with pytest.raises(InvalidToken):
            tokens.loads(purpose, token + suffix, max_age=DAY)


def test_tk05_email_token_with_stray_bits_or_spaces_rejected():
    """Only the exact text of dumps passes: stray bits that decode alike, or spaces, are refused."""
    tokens = EmailTokens([NEW])
    token = tokens.dumps("reset", "42", "stamp")
    signature = token.rsplit(".", 1)[1]
    altered = _stray_bit(token)
    padded = "=" * (-len(signature) % 4)
    assert base64.urlsafe_b64decode(signature + padded) == base64.urlsafe_b64decode(
        altered.rsplit(".", 1)[1] + padded
    )
    for bad in (altered, f" {token}", f"{token} ", f"{token}\r\n"):
        with pytest.raises(InvalidToken):
            tokens.loads("reset", bad, max_age=DAY)


@pytest.mark.parametrize("kind", ["session", "remember", "api"])
def test_tk05_padded_credential_secrets_rejected(kind):
    """A session, remember-me or API secret with padding appended or stray bits maps to nothing."""
    creds = CredentialSecrets([NEW])
    token, stored = creds.new(kind)
    assert creds.secret_hash(kind, token) == stored
    for bad in [token + suffix for suffix in PADDED if suffix != "\n"] + [_stray_bit(token)]:
        assert creds.secret_hash(kind, bad) is None, bad


def test_session_snapshots_are_signed_under_their_own_salt():
    """A snapshot reads back under the current or an older key; a changed character, a
    foreign key, a credential secret (another salt) or an oversized value is refused."""
    payload = ["s1", "ab" * 16, "42", "a@example.com", "cid", 1, None, 2, ["admin"], ["x:y"]]
    old = SessionSnapshots([OLD]).dumps(payload)
    both = SessionSnapshots([OLD, NEW])
    assert both.loads(old) == payload
    made = both.dumps(payload)
    assert SessionSnapshots([NEW]).loads(made) == payload
    assert SessionSnapshots([OLD]).loads(made) is None
    body, signature = made.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for bad in (
        f"{body}.{flipped}{signature[1:]}",
        f"{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{signature}",
        made + "=",
        " " + made,
        CredentialSecrets([NEW]).new("session")[0],
        "x" * 5000,
        "",
        None,
    ):
        assert both.loads(bad) is None
