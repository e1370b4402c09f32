"""Token formats, owned by the core so every adapter reads and writes the same ones.

Two families:

* **Emailed tokens** (confirm, reset, change-email, unlock): itsdangerous timed signatures with one
  salt per purpose (TK-01), ``max_age`` always required (TK-02), key rotation (TK-07). The
  payload is readable base64, so it carries only the user id and short keyed fingerprints of
  the values it is bound to (the security stamp, an email), never the values (TK-08).
* **Credential secrets** (session cookie, remember-me cookie, API token): 256 random bits,
  signed with a per-kind salt so garbage and cross-kind use are refused before any lookup,
  and stored only as their SHA-256 (TK-09, SS-02).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from itsdangerous import (
    BadData,
    BadSignature,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode

from doorward.clock import Clock, SystemClock
from doorward.exceptions import InvalidToken
from doorward.records import CredentialKind

__all__ = [
    "MAX_TOKEN_LENGTH",
    "CredentialSecrets",
    "CsrfTokens",
    "EmailTokens",
    "Purpose",
    "SessionSnapshots",
    "hash_secret",
    "new_stamp",
]

Purpose = Literal["confirm", "reset", "change_email", "unlock", "sign_in"]
PURPOSES: tuple[Purpose, ...] = ("confirm", "reset", "change_email", "unlock", "sign_in")
#: Longer inputs are refused before any work (TK-05).
MAX_TOKEN_LENGTH = 512
API_TOKEN_PREFIX = "dw_"  # noqa: S105 (a public prefix, not a secret)
ACCESS_TOKEN_PREFIX = "dwa_"  # noqa: S105 (a public prefix: an app client's access token)
#: The public prefixes of bearer tokens, by credential kind.
_PREFIXES = {"api": API_TOKEN_PREFIX, "access": ACCESS_TOKEN_PREFIX}


def new_stamp() -> str:
    """A fresh random security stamp."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    """SHA-256 hex: the stored form of credential secrets (256-bit random) and of the keys
    shared rate limiters count under (so no address or IP is stored in clear)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _canonical(text: str, parts: int) -> bool:
    """Whether ``text`` is ``parts`` dot-separated base64url fields exactly as itsdangerous
    writes them: no padding, nothing appended, no stray bits in the last character.

    The decoder is lenient (``sig=``, ``sig==A`` and a changed last bit decode to the same
    bytes), so a token is accepted only if each field re-encodes to itself (TK-05). A
    compressed payload of ``dumps`` starts with ``.``.
    """
    fields = text.split(".")
    if len(fields) == parts + 1 and fields[0] == "":
        fields = fields[1:]
    if len(fields) != parts:
        return False
    for field in fields:
        if not _BASE64URL.fullmatch(field):
            return False
        try:
            if base64_encode(base64_decode(field)).decode("ascii") != field:
                return False
        except BadData:
            return False
    return True


def _checked(token: object) -> str:
    if not isinstance(token, str):
        raise InvalidToken
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidToken
    return token


class EmailTokens:
    """Signs and checks the tokens sent in emails."""

    def __init__(self, secret_keys: Sequence[str], clock: Clock | None = None) -> None:
        now = (clock or SystemClock()).now
        self._keys = [k.encode() for k in secret_keys]

        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(now().timestamp())

        self._serializers = {
            purpose: URLSafeTimedSerializer(
                list(secret_keys),
                salt=f"doorward.{purpose}",
                signer=_ClockSigner,
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for purpose in PURPOSES
        }

    def fingerprint(self, value: str) -> str:
        """A short keyed digest of ``value`` (a stamp, an email) made with the newest key."""
        return self._fingerprint(self._keys[-1], value)

    @staticmethod
    def _fingerprint(key: bytes, value: str) -> str:
        digest = hmac.new(key, b"doorward.fingerprint." + value.encode(), hashlib.sha256)
        return digest.hexdigest()[:24]

    def matches(self, fingerprint: object, value: str) -> bool:
        """Whether ``fingerprint`` was made from ``value`` with any of the keys."""
        if not isinstance(fingerprint, str):
            return False
        return any(
            hmac.compare_digest(fingerprint, self._fingerprint(key, value)) for key in self._keys
        )

    def dumps(self, purpose: Purpose, user_id: str, *bound: str) -> str:
        """A token for ``user_id`` bound to the fingerprints of the ``bound`` values."""
        payload = [user_id, *(self.fingerprint(v) for v in bound)]
        return str(self._serializers[purpose].dumps(payload))

    def loads(self, purpose: Purpose, token: object, *, max_age: timedelta) -> list[Any]:
        """The payload ``[user_id, fingerprint, ...]`` of a valid token, or ``InvalidToken``.

        ``max_age`` is required: an emailed token never lives forever (TK-02). Only the
        exact text ``dumps`` produced is accepted: surrounding whitespace, padding or
        anything appended is refused before the signature is checked (TK-05).
        """
        if not isinstance(max_age, timedelta):
            raise TypeError("max_age is required")
        text = _checked(token)
        if text != token or not _canonical(text, 3):  # payload.timestamp.signature
            raise InvalidToken
        try:
            payload = self._serializers[purpose].loads(text, max_age=int(max_age.total_seconds()))
        except (BadSignature, ValueError, TypeError) as exc:
            raise InvalidToken from exc
        if (
            not isinstance(payload, list)
            or len(payload) < 2
            or not all(isinstance(part, str) for part in payload)
        ):
            raise InvalidToken
        return payload


class CredentialSecrets:
    """Makes and checks the secrets of session cookies, remember-me cookies and API tokens."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._signers = {
            kind: Signer(
                list(secret_keys), salt=f"doorward.credential.{kind}", digest_method=hashlib.sha256
            )
            for kind in ("session", "remember", "api", "mfa", "trust", "access")
        }
        # The keys itsdangerous derives on every check, derived once (newest first, the
        # order ``Signer.unsign`` tries them): checking a cookie is the per-request cost.
        self._derived = {kind: _derived_keys(signer) for kind, signer in self._signers.items()}

    def new(self, kind: CredentialKind) -> tuple[str, str]:
        """``(token, secret_hash)``: the value handed out once and the value stored."""
        raw = secrets.token_urlsafe(32)
        token = _PREFIXES.get(kind, "") + self._signers[kind].sign(raw).decode()
        return token, hash_secret(raw)

    def secret_hash(self, kind: CredentialKind, token: object) -> str | None:
        """The stored hash a presented token maps to, or ``None`` if it is not one of ours.

        Only a signature check: no lookup happens for a malformed or forged value (TK-05).
        """
        try:
            text = _checked(token)
        except InvalidToken:
            return None
        prefix = _PREFIXES.get(kind, "")
        if not text.startswith(prefix):
            return None
        found = _signed_pair(text[len(prefix) :])
        if found is None:
            return None
        raw, signature = found
        if not _signed_by(self._signers[kind], self._derived[kind], raw, signature):
            return None
        return hash_secret(raw.decode())


def _derived_keys(signer: Signer) -> list[bytes]:
    """The keys ``signer`` derives from its secret keys on every check, newest first (the
    order ``Signer.verify_signature`` tries them), derived once."""
    return [signer.derive_key(key) for key in reversed(signer.secret_keys)]


def _signed_by(signer: Signer, keys: list[bytes], raw: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (base64url, as sent) signs ``raw`` under one of ``keys`` (those
    ``_derived_keys`` kept: checking a cookie is a per-request cost).

    The expected signature is encoded and compared as text: only the one encoding
    itsdangerous writes matches, never a variant a lenient decoder would take (``sig=``, a
    changed last bit; TK-05), and nothing is decoded first.
    """
    algorithm = signer.algorithm
    return any(
        hmac.compare_digest(base64_encode(algorithm.get_signature(key, raw)), signature)
        for key in keys
    )


def _signed_pair(text: str) -> tuple[bytes, bytes] | None:
    """``raw.signature`` as ``CredentialSecrets.new`` and ``SessionSnapshots.dumps`` write
    it: both fields as sent, or ``None`` unless it is two base64url fields. The signature is
    over the raw text itself, so a raw value that verifies is exactly the one signed."""
    raw, dot, signature = text.partition(".")
    if not dot or not _BASE64URL.fullmatch(raw) or not _BASE64URL.fullmatch(signature):
        return None
    return raw.encode(), signature.encode()


#: A snapshot cookie longer than this is refused unread (browsers keep about 4 KB a cookie).
MAX_SNAPSHOT_LENGTH = 3800


class SessionSnapshots:
    """Signs and reads session snapshots (``Settings.session_snapshot_seconds``).

    A snapshot is compact JSON in base64url, signed by itsdangerous's ``Signer`` with the
    site's keys under its own salt (rotation as for every other token; the derived keys are
    kept, as ``CredentialSecrets`` does: reading one is a per-request cost). It is readable:
    it carries the user's id and email, the session's public id, timestamps, role and
    permission names, never a secret or a stamp. What it means and how long it is good for
    is ``doorward._rules``' to decide.
    """

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._signer = Signer(
            list(secret_keys), salt="doorward.session-snapshot", digest_method=hashlib.sha256
        )
        self._derived = _derived_keys(self._signer)

    def dumps(self, payload: list[Any]) -> str:
        """The cookie value for ``payload``."""
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
        return self._signer.sign(base64_encode(text.encode())).decode()

    def loads(self, text: object) -> list[Any] | None:
        """The payload of a snapshot this site signed, or ``None`` for anything else."""
        if not isinstance(text, str) or not text or len(text) > MAX_SNAPSHOT_LENGTH:
            return None
        if not text.isascii():
            return None
        found = _signed_pair(text)
        if found is None:
            return None
        raw, signature = found
        if not _signed_by(self._signer, self._derived, raw, signature):
            return None
        try:
            payload = json.loads(base64_decode(raw))
        except (BadData, ValueError):
            return None
        return payload if isinstance(payload, list) else None


class CsrfTokens:
    """Signed double-submit CSRF tokens (CR-01).

    The CSRF cookie holds a random value; the token a form or the ``X-CSRF-Token`` header
    must carry is a keyed digest of it. A cross-site page can neither read the cookie nor
    compute the digest. Adapters issue a new cookie at login and logout.
    """

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._keys = [k.encode() for k in secret_keys]

    @staticmethod
    def new_cookie() -> str:
        """A fresh random value for the CSRF cookie."""
        return secrets.token_urlsafe(32)

    def token_for(self, cookie_value: str) -> str:
        """The token that matches ``cookie_value`` (made with the newest key)."""
        return self._digest(self._keys[-1], cookie_value)

    def check(self, cookie_value: object, token: object) -> bool:
        """Whether ``token`` was made for ``cookie_value`` with any current key."""
        if not isinstance(cookie_value, str) or not isinstance(token, str):
            return False
        if not cookie_value or not token or len(cookie_value) > 128 or len(token) > 128:
            return False
        return any(
            hmac.compare_digest(token, self._digest(key, cookie_value)) for key in self._keys
        )

    @staticmethod
    def _digest(key: bytes, cookie_value: str) -> str:
        mac = hmac.new(key, b"doorward.csrf." + cookie_value.encode(), hashlib.sha256)
        return mac.hexdigest()
