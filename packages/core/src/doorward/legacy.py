"""Logging in users whose password hashes come from another library, then rehashing them.

``LegacyHasher`` (sync) and ``AsyncLegacyHasher`` are password hashers for ``Auth`` and
``AsyncAuth``. New hashes are argon2id from the primary hasher. ``verify`` gives a hash to
the first verifier that identifies its format, and any other hash to the primary, which
verifies its own argon2 hashes and does equal work for unknown ones. ``needs_rehash`` is
true for every legacy format, so the login flow replaces a legacy hash with argon2id on
the first successful login (PW-07). Each format is opt-in::

    hasher = AsyncLegacyHasher.from_settings(settings, [DjangoVerifier()])
    auth = AsyncAuth(settings, store, hasher=hasher)

Every attempt computes exactly one hash, legacy or argon2id (LE-02): a legacy hash that is
malformed or asks for more work than its verifier's ``Limits`` is not computed (PW-08), and
one argon2id hash of the configured cost is computed instead. Legacy work goes through the
primary's admission gate and, in the async face, its worker threads (CC-06).

bcrypt-based formats compare only the first 72 bytes of a password; that lasts until the
first login, which stores argon2id. The bcrypt formats need ``pip install 'doorward[legacy]'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from doorward._legacy_formats import (
    DJANGO_SCHEMES,
    FLASK_SECURITY_SCHEMES,
    PASSLIB_ARGON2,
    BcryptVerifier,
    DjangoVerifier,
    FlaskSecurityVerifier,
    Limits,
    RefusedHash,
)
from doorward.exceptions import ConfigurationError
from doorward.hashing import Argon2Hasher, AsyncArgon2Hasher
from doorward.settings import Settings

__all__ = [
    "DJANGO_SCHEMES",
    "FLASK_SECURITY_SCHEMES",
    "PASSLIB_ARGON2",
    "AsyncLegacyHasher",
    "BcryptVerifier",
    "DjangoVerifier",
    "FlaskSecurityVerifier",
    "LegacyHasher",
    "LegacyVerifier",
    "Limits",
    "RefusedHash",
]


class LegacyVerifier(Protocol):
    """Checks passwords against the hashes of one library (``DjangoVerifier``, ...)."""

    def identifies(self, stored_hash: str) -> bool:
        """Whether the stored hash has one of this verifier's formats (cheap: its shape)."""
        ...

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether the password matches, after exactly one hash computation.

        Raise ``RefusedHash`` before computing anything when the hash is malformed or asks
        for more work than the verifier allows.
        """
        ...


def _probe(hasher: Argon2Hasher) -> str:
    """An argon2id hash with the costs ``hasher`` writes (dummy salt and hash)."""
    p = hasher.params
    dummy_salt, dummy_hash = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
    return (
        f"$argon2id$v=19$m={p.memory_cost},t={p.time_cost},p={p.parallelism}"
        f"${dummy_salt}${dummy_hash}"
    )


class LegacyHasher:
    """A ``PasswordHasher`` that also verifies legacy hashes and flags them for rehashing."""

    def __init__(
        self, primary: Argon2Hasher | None = None, verifiers: Iterable[LegacyVerifier] = ()
    ) -> None:
        self.primary = primary or Argon2Hasher()
        self.verifiers = tuple(verifiers)
        probe = _probe(self.primary)
        for verifier in self.verifiers:
            if verifier.identifies(probe):
                p = self.primary.params
                raise ConfigurationError(
                    f"{type(verifier).__name__} claims argon2 hashes of m={p.memory_cost},"
                    f"t={p.time_cost},p={p.parallelism}, the costs doorward hashes with, so "
                    "its hashes and doorward's could not be told apart. Give doorward other "
                    "argon2 parameters (Settings.argon2) than the old site used."
                )

    @classmethod
    def from_settings(cls, settings: Settings, verifiers: Iterable[LegacyVerifier]) -> LegacyHasher:
        """A legacy hasher whose primary has the parameters, caps and bounds of ``settings``."""
        return cls(Argon2Hasher.from_settings(settings), verifiers)

    def verifier_for(self, stored_hash: str | None) -> LegacyVerifier | None:
        """The first verifier that identifies the hash, or ``None`` (the primary's, unknown)."""
        if stored_hash is None:
            return None
        return next((v for v in self.verifiers if v.identifies(stored_hash)), None)

    def recognizes(self, stored_hash: str) -> bool:
        """Whether a login could verify this hash (e.g. to check an import before it runs)."""
        return self.verifier_for(stored_hash) is not None or self.primary.acceptable(stored_hash)

    def _verify_now(self, stored_hash: str | None, password: str) -> bool:
        """One hash computation, in the calling thread (the caller holds a place at the gate)."""
        verifier = self.verifier_for(stored_hash)
        if verifier is None or stored_hash is None:
            return self.primary._verify_now(stored_hash, password)  # noqa: SLF001
        try:
            return verifier.verify(stored_hash, password)
        except RefusedHash:
            return self.primary._verify_now(None, password)  # noqa: SLF001

    def hash(self, password: str) -> str:
        """A new argon2id hash from the primary."""
        return self.primary.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether the password matches; exactly one hash is computed on every path."""
        self.primary.admit()
        return self.primary.run_admitted(lambda: self._verify_now(stored_hash, password))

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for every legacy format, else as the primary says (PW-07)."""
        return self.verifier_for(stored_hash) is not None or self.primary.needs_rehash(stored_hash)


class AsyncLegacyHasher:
    """The async face of a ``LegacyHasher``: legacy work in the primary's worker threads."""

    def __init__(
        self, primary: AsyncArgon2Hasher | None = None, verifiers: Iterable[LegacyVerifier] = ()
    ) -> None:
        self.primary = primary or AsyncArgon2Hasher()
        self.sync = LegacyHasher(self.primary.sync, verifiers)

    @classmethod
    def from_settings(
        cls, settings: Settings, verifiers: Iterable[LegacyVerifier]
    ) -> AsyncLegacyHasher:
        """An async legacy hasher whose primary has the parameters of ``settings``."""
        return cls(AsyncArgon2Hasher.from_settings(settings), verifiers)

    async def hash(self, password: str) -> str:
        """A new argon2id hash, computed off the event loop."""
        return await self.primary.hash(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether the password matches, computed off the event loop (one hash)."""
        return await self.primary._offload(  # noqa: SLF001
            lambda: self.sync._verify_now(stored_hash, password)  # noqa: SLF001
        )

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for every legacy format, else as the primary says."""
        return self.sync.needs_rehash(stored_hash)
