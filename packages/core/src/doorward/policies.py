"""Input policies: email addresses, passwords, and the client address for rate limits.

Everything here is pure and shared by both faces. Each function checks types and sizes
first, before any expensive work, and raises ``ValidationFailed``/``PasswordRejected``
with messages for the field concerned.
"""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
from collections.abc import Iterable
from importlib import resources
from typing import Protocol
from urllib.parse import urlsplit

import email_validator

from doorward.exceptions import PasswordRejected, ValidationFailed
from doorward.settings import Settings

__all__ = [
    "BreachChecker",
    "check_new_password",
    "client_ip",
    "common_passwords",
    "normalize_email",
    "prepare_password",
]

_BAD_EMAIL = "Enter one valid email address."
#: Raw input longer than this many characters per allowed character is refused unread.
_RAW_FACTOR = 4


class BreachChecker(Protocol):
    """Tells whether a password is known from breaches (e.g. a k-anonymity range API)."""

    def is_breached(self, password: str) -> bool:
        """``True`` if the password appears in a breach corpus."""


def normalize_email(raw: object, *, max_length: int = 254, field: str = "email") -> tuple[str, str]:
    """Validate one address; return ``(email, normalized_email)`` (IV-01, LE-06).

    ``email`` is what mail is sent to: NFKC-normalised (a fullwidth at sign, U+FF20, becomes ``@``),
    checked by ``email-validator`` (one address, no display name, no control characters),
    with its domain lower-cased and IDNA-normalised. ``normalized_email`` is the lookup
    and uniqueness key: ``email.casefold()``, so addresses differing only by case — or by
    case-folding equivalents like ``ß``/``ss`` — are one account. Flows look users up by
    the key and always mail the address stored on the account, never the one typed.
    """
    if not isinstance(raw, str):
        raise ValidationFailed({field: [_BAD_EMAIL]})
    if len(raw) > max_length * _RAW_FACTOR:
        raise ValidationFailed({field: [f"Use at most {max_length} characters."]})
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise ValidationFailed({field: ["Enter your email address."]})
    if len(text) > max_length:
        raise ValidationFailed({field: [f"Use at most {max_length} characters."]})
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in text) or any(
        ch in text for ch in " ,;<>\"'"
    ):
        raise ValidationFailed({field: [_BAD_EMAIL]})
    try:
        info = email_validator.validate_email(
            text, check_deliverability=False, allow_display_name=False
        )
    except email_validator.EmailNotValidError:
        raise ValidationFailed({field: [_BAD_EMAIL]}) from None
    email = info.normalized
    if len(email) > max_length:
        raise ValidationFailed({field: [f"Use at most {max_length} characters."]})
    return email, email.casefold()


def prepare_password(raw: object, *, max_length: int, field: str = "password") -> str:
    """Check a password's type and size, then NFKC-normalise it (for verifying).

    The size cap is checked on the raw input first, so a megabyte is refused without
    being normalised (PW-08). No other rule applies: logging in reveals no policy.
    """
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed({field: ["Enter a password."]})
    if len(raw) > max_length * _RAW_FACTOR:
        raise ValidationFailed({field: [f"Use at most {max_length} characters."]})
    text = unicodedata.normalize("NFKC", raw)
    if len(text) > max_length:
        raise ValidationFailed({field: [f"Use at most {max_length} characters."]})
    return text


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled blocklist (see ``doorward/data/README.md``), lower-cased."""
    text = resources.files("doorward").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def check_new_password(
    raw: object,
    settings: Settings,
    *,
    context: Iterable[str] = (),
    breach_checker: BreachChecker | None = None,
    field: str = "password",
) -> str:
    """Check a new password against the policy; return it NFKC-normalised, ready to hash.

    The policy is NIST SP 800-63B rev 4's: a minimum length in code points after NFKC
    (PW-01, PW-02), no composition rules or expiry (PW-03), and a whole-password,
    case-insensitive blocklist: common passwords, words from the context (the email
    address, its parts, the site's name) and, if configured, a breach corpus (PW-04).
    Every reason that applies is given.
    """
    text = prepare_password(raw, max_length=settings.password_max_length, field=field)
    reasons: list[str] = []
    length = len(text)
    if length < settings.password_min_length:
        reasons.append(
            f"Use at least {settings.password_min_length} characters (this has {length}). "
            "A few unrelated words make a good password."
        )
    folded = text.casefold()
    if folded in common_passwords():
        reasons.append("This is one of the most common passwords.")
    if folded in _context_words(settings, context):
        reasons.append("Do not use your email address or the site's name as the password.")
    if breach_checker is not None and breach_checker.is_breached(text):
        reasons.append("This password appears in a known data breach.")
    if reasons:
        raise PasswordRejected(reasons, field=field)
    return text


def _context_words(settings: Settings, context: Iterable[str]) -> set[str]:
    words = {"doorward", "password"}
    host = (urlsplit(settings.base_url).hostname or "").casefold()
    words.update({host, host.split(".")[0], settings.display_name.casefold()})
    for value in context:
        folded = value.casefold()
        words.add(folded)
        local, _, domain = folded.partition("@")
        words.update({local, domain, domain.split(".")[0]})
    words.discard("")
    return words


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxy_count: int
) -> str | None:
    """The client address to rate-limit by (RL-06).

    With no trusted proxies ``X-Forwarded-For`` is ignored: anyone can send it. With ``n``
    trusted proxies, each appending the address it saw, the ``n``-th entry from the right
    is the one the outermost trusted proxy received; anything left of it is client-made.
    A malformed entry falls back to the socket address.
    """
    if trusted_proxy_count > 0 and forwarded_for:
        parts = [part.strip() for part in forwarded_for.split(",")]
        if len(parts) >= trusted_proxy_count:
            try:
                return str(ipaddress.ip_address(parts[-trusted_proxy_count]))
            except ValueError:
                pass
    return remote_addr
