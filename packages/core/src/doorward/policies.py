"""Input policies: email addresses, passwords and the client address. Pure functions.

Every function here takes untrusted input of any type and either returns a clean value or
raises ``doorward.exceptions.ValidationFailed`` (``PasswordRejected`` for a new password
that breaks the policy). Sizes are checked before any costly work (IV-01, PW-08).

Email keys
    ``normalize_email`` returns the address to mail (``email``) and the key to look users
    up by and to keep unique (``normalized_email``). The key is the *compatibility
    caseless* form of the address: NFKC, then ``str.casefold``, then NFKC again. So
    ``Foo@X.COM`` and ``foo@x.com`` share a key, as do a fullwidth address (U+FF20 for
    ``@``...) and its ASCII form, an IDNA ``xn--`` domain and its Unicode form, and
    ``straße@`` and ``strasse@`` (casefold maps ß to ss). Dotless i (U+0131) is a letter
    of its own and stays distinct from ``i``; capital ``İ`` (U+0130) folds to ``i`` +
    U+0307, which is distinct from ``i`` too. Two addresses with one key cannot both hold
    an account, and a lookup by either finds the same user. Mail always goes to the
    stored ``email`` of the user found, never to what the requester typed (LE-06), so a
    shared key can never send a message to an address other than the one on the account.
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
from doorward.i18n import N_
from doorward.settings import Settings

__all__ = [
    "BreachChecker",
    "check_new_password",
    "client_ip",
    "common_passwords",
    "email_key",
    "normalize_email",
    "normalize_username",
    "prepare_password",
]

#: The product's own name is always a context word of the password blocklist.
PRODUCT_WORD = "doorward"
#: Context words shorter than this are ignored (they would only reject patterns).
_MIN_CONTEXT_WORD = 3
#: A password that is one unit of at most this many characters repeated is refused.
_MAX_REPEATED_UNIT = 4
_ADDRESS_SEPARATORS = frozenset(',;<>"')
_WORD_SEPARATORS = ".-_+"


class BreachChecker(Protocol):
    """Tells whether a password is known from a breach corpus (e.g. a k-anonymity API).

    ``is_breached`` gets the NFKC form of the password. Errors it raises propagate to the
    caller: an implementation that prefers to fail open catches its own errors and
    returns ``False``. From async code, call ``check_new_password`` through
    ``run_blocking`` when the checker does network I/O.
    """

    def is_breached(self, password: str) -> bool:
        """``True`` when the password appears in a breach corpus."""
        ...


# -- email -----------------------------------------------------------------------------


def _email_error(message: str, field: str = "email") -> ValidationFailed:
    return ValidationFailed({field: [message]})


def _invalid_address(text: str) -> str:
    """What is wrong with an address ``email_validator`` refused, in words the catalogs
    translate (its own messages are English only)."""
    if "@" not in text:
        return N_("An email address needs an @ sign.")
    if "." not in text.rpartition("@")[2]:
        return N_("After the @ comes a domain name with a dot, such as example.com.")
    return N_("This is not a valid email address.")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in text)


#: A username: letters and digits of any script, and ``.``, ``_``, ``-`` between them.
USERNAME_LENGTH = (3, 40)


def normalize_username(raw: object, *, field: str = "username") -> str:
    """The lookup and storage form of a username: NFKC, case-folded, checked.

    3 to 40 characters; letters and digits of any script, and ``.``, ``_`` or ``-``; it
    starts and ends with a letter or digit and has no ``@`` (so it never reads as an email
    address). ``ValidationFailed({field: [...]})`` otherwise.
    """
    low, high = USERNAME_LENGTH
    if not isinstance(raw, str) or len(raw) > high * 4:
        raise ValidationFailed({field: [N_("Enter a username.")]})
    text = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not low <= len(text) <= high:
        raise ValidationFailed(
            {field: [N_("A username has %(low)s to %(high)s characters.", low=low, high=high)]}
        )
    if not (text[0].isalnum() and text[-1].isalnum()) or not all(
        ch.isalnum() or ch in "._-" for ch in text
    ):
        raise ValidationFailed(
            {field: [N_("Use letters, digits, and . _ - between them (no spaces, no @).")]}
        )
    return text


def normalize_email(raw: object, *, max_length: int = 254, field: str = "email") -> tuple[str, str]:
    """Validate one email address; return ``(email, normalized_email)``.

    ``email`` is the address to store and mail to: NFKC-normalised, with the domain
    lowercased and IDNA-normalised by ``email_validator`` and the local part's case kept.
    ``normalized_email`` is the lookup and uniqueness key (see the module docstring).

    Raises ``ValidationFailed({field: [...]})`` for a non-string, an empty or too long
    value, control characters (CR/LF included), more than one address, a display name or
    any invalid syntax. No DNS query is made.
    """
    if not isinstance(raw, str):
        raise _email_error(N_("Enter an email address."), field)
    if len(raw) > max_length:
        raise _email_error(
            N_("An email address has at most %(max)s characters.", max=max_length), field
        )
    text = unicodedata.normalize("NFKC", raw).strip(" ")
    if not text:
        raise _email_error(N_("Enter an email address."), field)
    if len(text) > max_length:
        raise _email_error(
            N_("An email address has at most %(max)s characters.", max=max_length), field
        )
    if _has_control(text):
        raise _email_error(
            N_("An email address cannot contain control characters or line breaks."), field
        )
    if (
        text.count("@") > 1
        or not _ADDRESS_SEPARATORS.isdisjoint(text)
        or any(map(str.isspace, text))
    ):
        raise _email_error(N_("Enter a single email address, without a name or spaces."), field)
    try:
        validated = email_validator.validate_email(
            text, check_deliverability=False, allow_display_name=False, allow_quoted_local=False
        )
    except email_validator.EmailNotValidError:
        raise _email_error(_invalid_address(text), field) from None
    email = unicodedata.normalize("NFKC", validated.normalized)
    if len(email) > max_length:
        raise _email_error(
            N_("An email address has at most %(max)s characters.", max=max_length), field
        )
    return email, email_key(email)


def email_key(email: str) -> str:
    """The lookup key of an address ``normalize_email`` already accepted: NFKC∘casefold∘NFKC.

    For stores and migrations that hold ``email`` and need ``normalized_email`` again.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())


# -- passwords --------------------------------------------------------------------------


def prepare_password(raw: object, *, max_length: int, field: str = "password") -> str:
    """Type- and size-check a submitted password and return its NFKC form.

    This is all a login or re-authentication may do with a password: it checks no other
    policy, so a login reveals nothing about the rules. The length cap is checked in code
    points before anything else touches the string (PW-08); the NFKC form of a string of
    ``n`` code points has at most ``18 * n``, so the work that follows stays bounded.
    Lone surrogates (which no UTF-8 text contains) are refused.
    """
    if not isinstance(raw, str):
        raise ValidationFailed({field: [N_("Enter a password.")]})
    if len(raw) > max_length:
        raise ValidationFailed(
            {field: [N_("A password has at most %(max)s characters.", max=max_length)]}
        )
    if not raw:
        raise ValidationFailed({field: [N_("Enter a password.")]})
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(
            {field: [N_("This password contains invalid characters.")]}
        ) from None
    return unicodedata.normalize("NFKC", raw)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled blocklist of common passwords, lowercase (see ``doorward/data/README.md``)."""
    path = resources.files("doorward") / "data" / "common-passwords.txt"
    text = path.read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def _reduce(text: str) -> str:
    """Casefolded letters and digits only: ``"Alice.Smith-2024!"`` → ``"alicesmith2024"``."""
    return "".join(filter(str.isalnum, text.casefold()))


def _variants(password: str) -> set[str]:
    """The password and the derivatives a blocklist compares as whole strings."""
    folded = password.casefold()
    reduced = _reduce(password)
    found = {folded, reduced, reduced.strip("0123456789")}
    found |= {_unit(variant) for variant in found}
    found.discard("")
    return found


def _unit(text: str) -> str:
    """The shortest string whose repetition is ``text`` (``"abab"`` → ``"ab"``)."""
    size = len(text)
    for width in range(1, size // 2 + 1):
        if size % width == 0 and text[:width] * (size // width) == text:
            return text[:width]
    return text


def _context_words(settings: Settings, context: Iterable[str]) -> set[str]:
    """Reduced context words: the given strings, their email parts, the site's host."""
    sources = [PRODUCT_WORD, urlsplit(settings.base_url).hostname or ""]
    sources.extend(item for item in context if isinstance(item, str))
    words: set[str] = set()
    for source in sources:
        pieces = [source]
        local, at, domain = source.rpartition("@")
        if at:
            pieces += [local, domain]
            for sep in _WORD_SEPARATORS:
                pieces += local.split(sep)
        else:
            domain = source
        pieces += domain.split(".")
        words.update(map(_reduce, pieces))
    return {word for word in words if len(word) >= _MIN_CONTEXT_WORD}


def _is_short_pattern(password: str, min_length: int) -> bool:
    """Whether the password, or its letters and digits when they alone are long enough,
    is one unit of a few characters repeated (``"abababab..."``, ``"1111 1111 1111"``)."""
    candidates = [password.casefold()]
    reduced = _reduce(password)
    if len(reduced) >= min_length:
        candidates.append(reduced)
    return any(len(_unit(text)) <= _MAX_REPEATED_UNIT < len(text) for text in candidates)


def check_new_password(
    raw: object,
    settings: Settings,
    *,
    context: Iterable[str] = (),
    breach_checker: BreachChecker | None = None,
    field: str = "password",
) -> str:
    """Check a password chosen at registration, reset or change; return its NFKC form.

    The rules (NIST SP 800-63B rev 4, PW-01..PW-04): at least
    ``settings.password_min_length`` and at most ``settings.password_max_length`` code
    points after NFKC; any characters, no composition rules; and, with
    ``settings.password_blocklist`` on, not one of the bundled common passwords, not
    derived from a context word (``context`` — typically the email address — the site's
    host name and "doorward"), and not a unit of a few characters repeated. The blocklist
    compares whole strings: the password casefolded, its letters and digits only, that
    with leading and trailing digits removed, and the unit each of those repeats; a
    common word *inside* a longer passphrase is fine. Last, ``breach_checker`` is asked.

    Raises ``PasswordRejected`` whose ``reasons`` say, in words for the user, what to change.
    """
    password = prepare_password(raw, max_length=settings.password_max_length, field=field)
    size = len(password)
    if size < settings.password_min_length:
        raise PasswordRejected(
            [
                N_(
                    "Use at least %(min)s characters (this has %(size)s).",
                    min=settings.password_min_length,
                    size=size,
                )
            ],
            field=field,
        )
    if size > settings.password_max_length:
        raise PasswordRejected(
            [N_("Use at most %(max)s characters.", max=settings.password_max_length)], field=field
        )
    reasons: list[str] = []
    if settings.password_blocklist:
        variants = _variants(password)
        if variants & common_passwords():
            reasons.append(N_("This is one of the most commonly used passwords."))
        if variants & _context_words(settings, context):
            reasons.append(N_("This password is too close to your email address or the site name."))
        if _is_short_pattern(password, settings.password_min_length):
            reasons.append(N_("This password is a short pattern repeated."))
    if not reasons and breach_checker is not None and breach_checker.is_breached(password):
        reasons.append(N_("This password has appeared in a data breach. Choose another one."))
    if reasons:
        raise PasswordRejected(reasons, field=field)
    return password


# -- client address ---------------------------------------------------------------------


def _parse_ip(text: str) -> str | None:
    """The canonical form of an address that may carry a port or brackets, else ``None``."""
    candidate = text.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].partition("]")[0]
    elif candidate.count(":") == 1:
        candidate = candidate.partition(":")[0]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxy_count: int
) -> str | None:
    """The client's address for rate limiting, trusting X-Forwarded-For only as configured.

    With ``trusted_proxy_count == 0`` the header is ignored (RL-06): it is whatever the
    client wrote. With ``n`` trusted proxies, each appending the address it saw, the
    ``n``-th entry from the right was written by the outermost trusted proxy; entries
    left of it are the client's own words. When that entry is missing or not an IP
    address, the socket's ``remote_addr`` is used. IPv4-mapped IPv6 addresses are
    returned as IPv4; a ``remote_addr`` that is not an IP (a test client's name, a unix
    socket) is returned unchanged.
    """
    if trusted_proxy_count > 0 and forwarded_for:
        entries = forwarded_for.split(",")
        if len(entries) >= trusted_proxy_count:
            parsed = _parse_ip(entries[-trusted_proxy_count])
            if parsed is not None:
                return parsed
    if remote_addr is None:
        return None
    return _parse_ip(remote_addr) or remote_addr
