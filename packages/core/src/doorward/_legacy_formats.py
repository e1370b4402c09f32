"""The legacy hash formats behind ``doorward.legacy``, one verifier per source library.

A verifier tells its formats apart by their shape alone (``identifies``). ``verify`` then
checks the stored cost against ``Limits`` before any work (PW-08) and runs exactly one
computation of the original algorithm (LE-02) with bcrypt, argon2-cffi or hashlib. A
stored hash that is malformed or over the limits makes it raise ``RefusedHash`` having
computed nothing, so the caller can do its one computation elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Collection, Iterable
from types import ModuleType
from typing import Literal

import argon2
import attrs
from argon2.exceptions import InvalidHashError, VerificationError

from doorward.exceptions import ConfigurationError
from doorward.settings import Argon2Params, Settings

__all__ = [
    "DJANGO_SCHEMES",
    "FLASK_SECURITY_SCHEMES",
    "PASSLIB_ARGON2",
    "BcryptVerifier",
    "DjangoVerifier",
    "FlaskSecurityVerifier",
    "Limits",
    "RefusedHash",
]

#: bcrypt reads this many bytes of a password and ignores the rest.
BCRYPT_MAX_BYTES = 72

DJANGO_SCHEMES = ("pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt")
FLASK_SECURITY_SCHEMES = ("argon2", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha512")
#: passlib's argon2 costs, which Flask-Security-Too uses unless
#: ``SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS`` sets ``argon2__*`` options.
PASSLIB_ARGON2 = Argon2Params(time_cost=3, memory_cost=65536, parallelism=4)

_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64}
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_ARGON2 = re.compile(
    r"^\$argon2(?:id|i|d)\$(?:v=\d{1,3}\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})"
    r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{6,}$"  # argon2's minimums: 8-byte salt, 4-byte hash
)
_DJANGO_PBKDF2 = re.compile(r"^pbkdf2_(sha256|sha1)\$(\d{1,10})\$([^$]+)\$([A-Za-z0-9+/]+={0,2})$")
_PASSLIB_PBKDF2 = re.compile(
    r"^\$pbkdf2-(sha256|sha512)\$(\d{1,10})\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)$"
)

_ARGON2_ENGINE = argon2.PasswordHasher()


class RefusedHash(ValueError):
    """The stored hash is malformed or asks for more work than ``Limits`` allow.

    Raised before anything was computed.
    """


@attrs.frozen
class Limits:
    """The most work a stored legacy hash may ask for; above any of these it is refused (PW-08).

    The argon2 caps default to those of ``Settings``; ``from_settings`` takes a site's.
    """

    pbkdf2_iterations: int = 2_000_000
    bcrypt_cost: int = 16
    argon2_memory_cost: int = 262144
    argon2_time_cost: int = 10
    argon2_parallelism: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The default limits with the argon2 caps of ``settings``."""
        return cls(
            argon2_memory_cost=settings.argon2_max_memory_cost,
            argon2_time_cost=settings.argon2_max_time_cost,
            argon2_parallelism=settings.argon2_max_parallelism,
        )


def load_bcrypt(needed_by: str) -> ModuleType:
    """The bcrypt module, or an ``ImportError`` that names the extra to install."""
    try:
        import bcrypt  # noqa: PLC0415 (an optional dependency, imported when a verifier needs it)
    except ImportError:
        raise ImportError(f"{needed_by} needs bcrypt: pip install 'doorward[legacy]'") from None
    return bcrypt


# -- one computation each, after the checks that need none ---------------------------------


def _argon2_costs(phc: str) -> tuple[int, int, int] | None:
    """``(memory, time, parallelism)`` of an argon2 PHC string, or ``None`` for another shape."""
    match = _ARGON2.match(phc)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def _bcrypt(module: ModuleType | None, secret: bytes, stored: str, limits: Limits) -> bool:
    match = _BCRYPT.match(stored)
    if module is None or match is None or not 4 <= int(match.group(1)) <= limits.bcrypt_cost:
        raise RefusedHash
    try:
        return bool(module.checkpw(secret[:BCRYPT_MAX_BYTES], stored.encode("ascii")))
    except ValueError:  # "Invalid salt": bcrypt refused it before hashing
        raise RefusedHash from None


def _argon2(phc: str, secret: bytes, limits: Limits) -> bool:
    costs = _argon2_costs(phc)
    if costs is None or (
        costs[0] > limits.argon2_memory_cost
        or costs[1] > limits.argon2_time_cost
        or costs[2] > limits.argon2_parallelism
    ):
        raise RefusedHash
    try:
        return _ARGON2_ENGINE.verify(phc, secret)
    except InvalidHashError:  # argon2 could not decode it, so computed nothing
        raise RefusedHash from None
    except VerificationError:
        return False


def _pbkdf2(
    secret: bytes, *, digest: str, salt: bytes, iterations: int, expected: bytes, limits: Limits
) -> bool:
    if not 0 < iterations <= limits.pbkdf2_iterations or len(expected) != _DIGEST_SIZES[digest]:
        raise RefusedHash
    return hmac.compare_digest(hashlib.pbkdf2_hmac(digest, secret, salt, iterations), expected)


def _b64(text: str, *, passlib: bool = False) -> bytes:
    """Standard base64, or passlib's variant of it ("." for "+", no padding)."""
    if passlib:
        text = text.replace(".", "+") + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise RefusedHash from None


# -- the verifiers ---------------------------------------------------------------------------


class BcryptVerifier:
    """Plain bcrypt (``$2a$``, ``$2b$``, ``$2y$``): ``bcrypt.hashpw``, pwdlib's and so
    fastapi-users' ``BcryptHasher``, passlib's ``bcrypt``.

    bcrypt reads only the first 72 bytes of a password, so these hashes cannot give PW-05's
    exact verification; the first login replaces them with argon2id, which reads it all.
    """

    def __init__(self, *, limits: Limits | None = None) -> None:
        self._bcrypt = load_bcrypt("BcryptVerifier")
        self.limits = limits or Limits()

    def identifies(self, stored_hash: str) -> bool:
        """Whether the hash has bcrypt's shape."""
        return _BCRYPT.match(stored_hash) is not None

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether the password's first 72 bytes match (one bcrypt computation)."""
        return _bcrypt(self._bcrypt, password.encode("utf-8"), stored_hash, self.limits)


class DjangoVerifier:
    """Django's ``pbkdf2_sha256$``, ``pbkdf2_sha1$``, ``argon2$``, ``bcrypt_sha256$`` and
    ``bcrypt$`` hashes (also passlib's ``django_*`` schemes, which write the same strings).

    ``bcrypt_sha256`` hashes the SHA-256 hex digest of the password, so the whole password
    counts; plain ``bcrypt$`` reads 72 bytes, as ``BcryptVerifier`` does. The bcrypt schemes
    need ``doorward[legacy]``; leave them out of ``schemes`` to do without it.
    """

    def __init__(
        self, *, schemes: Collection[str] = DJANGO_SCHEMES, limits: Limits | None = None
    ) -> None:
        unknown = set(schemes) - set(DJANGO_SCHEMES)
        if unknown:
            raise ConfigurationError(f"DjangoVerifier knows {DJANGO_SCHEMES}, not {unknown}.")
        self.schemes = frozenset(schemes)
        self.limits = limits or Limits()
        wants_bcrypt = bool(self.schemes & {"bcrypt_sha256", "bcrypt"})
        self._bcrypt = load_bcrypt("DjangoVerifier's bcrypt schemes") if wants_bcrypt else None

    def identifies(self, stored_hash: str) -> bool:
        """Whether the hash starts with the name of one of the schemes and a ``$``."""
        name, dollar, _ = stored_hash.partition("$")
        return bool(dollar) and name in self.schemes

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether the password matches, as Django's ``check_password`` would say."""
        if not self.identifies(stored_hash):
            raise RefusedHash
        name, _, rest = stored_hash.partition("$")
        secret = password.encode("utf-8")
        if name == "argon2":
            return _argon2("$" + rest, secret, self.limits)
        if name == "bcrypt_sha256":
            prehashed = binascii.hexlify(hashlib.sha256(secret).digest())
            return _bcrypt(self._bcrypt, prehashed, rest, self.limits)
        if name == "bcrypt":
            return _bcrypt(self._bcrypt, secret, rest, self.limits)
        match = _DJANGO_PBKDF2.match(stored_hash)
        if match is None:
            raise RefusedHash
        digest, iterations, salt, encoded = match.groups()
        return _pbkdf2(
            secret,
            digest=digest,
            salt=salt.encode("utf-8"),
            iterations=int(iterations),
            expected=_b64(encoded),
            limits=self.limits,
        )


class FlaskSecurityVerifier:
    """Flask-Security-Too's hashes: passlib's ``argon2``, ``bcrypt``, ``pbkdf2_sha256`` and
    ``pbkdf2_sha512`` strings of the base64 HMAC-SHA512 of the password keyed with
    ``SECURITY_PASSWORD_SALT``, after its ``SECURITY_PASSWORD_NORMALIZE_FORM`` (NFKD).

    ``single_hash=True`` is for a site that set ``SECURITY_PASSWORD_SINGLE_HASH = True``:
    no HMAC, so no salt. The ``django_*`` schemes (``"django_pbkdf2_sha256"``, ...) are
    Django's strings of the normalised password, never HMAC'd (Flask-Security-Too's default).

    An argon2 hash of Flask-Security-Too looks like any other argon2 hash, so this verifier
    claims only those made with ``argon2_params`` (passlib's defaults unless the site changed
    them), and doorward must hash with other costs (``LegacyHasher`` checks at start-up).
    """

    def __init__(
        self,
        password_salt: str | None,
        *,
        schemes: Collection[str] = FLASK_SECURITY_SCHEMES,
        argon2_params: Iterable[Argon2Params] = (PASSLIB_ARGON2,),
        single_hash: bool = False,
        normalize_form: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = "NFKD",
        limits: Limits | None = None,
    ) -> None:
        known = {*FLASK_SECURITY_SCHEMES, *(f"django_{name}" for name in DJANGO_SCHEMES)}
        if unknown := set(schemes) - known:
            raise ConfigurationError(f"FlaskSecurityVerifier knows {sorted(known)}, not {unknown}.")
        if not single_hash and not password_salt:
            raise ConfigurationError(
                "FlaskSecurityVerifier needs the site's SECURITY_PASSWORD_SALT "
                "(or single_hash=True if it set SECURITY_PASSWORD_SINGLE_HASH = True)."
            )
        self._key = None if single_hash or not password_salt else password_salt.encode("utf-8")
        self.schemes = frozenset(schemes)
        self.normalize_form = normalize_form
        self.limits = limits or Limits()
        self._argon2_costs = frozenset(
            (p.memory_cost, p.time_cost, p.parallelism)
            for p in argon2_params
            if "argon2" in self.schemes
        )
        wants_bcrypt = "bcrypt" in self.schemes
        self._bcrypt = load_bcrypt("FlaskSecurityVerifier's bcrypt") if wants_bcrypt else None
        django = [name.removeprefix("django_") for name in schemes if name.startswith("django_")]
        self._django = DjangoVerifier(schemes=django, limits=self.limits) if django else None

    def _scheme(self, stored_hash: str) -> str | None:
        if stored_hash.startswith("$2"):
            return "bcrypt" if "bcrypt" in self.schemes and _BCRYPT.match(stored_hash) else None
        if stored_hash.startswith("$argon2"):
            return "argon2" if _argon2_costs(stored_hash) in self._argon2_costs else None
        match = _PASSLIB_PBKDF2.match(stored_hash)
        if match is not None and f"pbkdf2_{match[1]}" in self.schemes:
            return "pbkdf2"
        if self._django is not None and self._django.identifies(stored_hash):
            return "django"
        return None

    def identifies(self, stored_hash: str) -> bool:
        """Whether the hash has the shape of one of the schemes (argon2: of its costs)."""
        return self._scheme(stored_hash) is not None

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether the password matches, as Flask-Security-Too's ``verify_password`` would say."""
        scheme = self._scheme(stored_hash)
        if self.normalize_form is not None:
            password = unicodedata.normalize(self.normalize_form, password)
        if scheme == "django" and self._django is not None:
            return self._django.verify(stored_hash, password)
        secret = password.encode("utf-8")
        if self._key is not None:
            secret = base64.b64encode(hmac.new(self._key, secret, hashlib.sha512).digest())
        if scheme == "bcrypt":
            return _bcrypt(self._bcrypt, secret, stored_hash, self.limits)
        if scheme == "argon2":
            return _argon2(stored_hash, secret, self.limits)
        match = _PASSLIB_PBKDF2.match(stored_hash)
        if scheme is None or match is None:
            raise RefusedHash
        digest, rounds, salt, checksum = match.groups()
        return _pbkdf2(
            secret,
            digest=digest,
            salt=_b64(salt, passlib=True),
            iterations=int(rounds),
            expected=_b64(checksum, passlib=True),
            limits=self.limits,
        )
