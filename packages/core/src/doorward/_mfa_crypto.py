"""TOTP, its QR code and its encryption at rest: the part of MFA that needs ``doorward[mfa]``.

pyotp computes the codes (RFC 6238: SHA-1, 6 digits, 30-second steps, what every
authenticator app reads), segno draws the enrolment QR code as inline SVG, and
cryptography's Fernet (AES-128-CBC with HMAC-SHA256) encrypts the secrets at rest with keys
derived from ``Settings.secret_keys`` by HKDF-SHA256: the newest key encrypts, any key
decrypts, so rotating the secret keys keeps every enrolment working (MF-01).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet as _Fernet
from cryptography.fernet import InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["STEP_SECONDS", "TotpCodes"]

#: RFC 6238's time step, the one authenticator apps use.
STEP_SECONDS = 30
#: 32 base32 characters: 160 bits, RFC 4226's recommended length (MF-01).
SECRET_LENGTH = 32
_INFO = b"doorward.mfa.totp-secret"


def _fernet(key: str) -> _Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())
    return _Fernet(base64.urlsafe_b64encode(derived))


class TotpCodes:
    """New TOTP secrets, their encryption at rest, their codes, URI and QR code."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        # MultiFernet encrypts with the first key and tries each in turn to decrypt.
        self._fernet = MultiFernet([_fernet(key) for key in reversed(secret_keys)])

    @staticmethod
    def new_secret() -> str:
        """A random base32 secret of 160 bits."""
        return pyotp.random_base32(SECRET_LENGTH)

    def encrypt(self, secret: str) -> str:
        """The stored form of a secret (never the base32 text)."""
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, stored: str) -> str | None:
        """The secret back, or ``None`` when no current key opens it."""
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    @staticmethod
    def step_of(now: datetime) -> int:
        """The time step ``now`` falls in."""
        return int(now.timestamp()) // STEP_SECONDS

    @staticmethod
    def matching_step(secret: str, code: str, now: datetime, *, drift: int = 1) -> int | None:
        """The time step whose code is ``code``, within ``drift`` steps of now, or ``None``.

        Every candidate is compared in constant time; the newest matching step wins.
        """
        totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
        current = TotpCodes.step_of(now)
        found = None
        for step in range(current - drift, current + drift + 1):
            if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
                found = step
        return found

    @staticmethod
    def uri(secret: str, *, account: str, issuer: str) -> str:
        """The ``otpauth://totp/...`` URI an authenticator app reads."""
        return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
            name=account, issuer_name=issuer
        )

    @staticmethod
    def qr_svg(uri: str) -> str:
        """The URI as a QR code: an inline ``<svg>`` element, no external resource."""
        return str(segno.make(uri, error="m").svg_inline(scale=4, title="TOTP QR code"))
