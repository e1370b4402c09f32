"""Stub out the argon2 primitive, the same way in every library the bench measures.

doorward, Flask-Security-Too (passlib/libpass) and fastapi-users (pwdlib) all end in
argon2-cffi's ``low_level.hash_secret`` / ``verify_secret``. ``stubbed()`` swaps those two
for a keyed BLAKE2b of the same PHC shape (same parameters in the string, so no library
sees a rehash), and everything above them (parameter checks, thread pools, HMAC
pre-hashing, PHC parsing) runs as users run it. Imported by ``run.py`` and ``peers.py``;
stdlib and argon2-cffi only, as both environments have them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from collections.abc import Iterator

import argon2._password_hasher
import argon2.low_level
from argon2.exceptions import VerifyMismatchError

_NAMES = {argon2.low_level.Type.ID: "argon2id", argon2.low_level.Type.I: "argon2i"}
_NAMES[argon2.low_level.Type.D] = "argon2d"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _digest(secret: bytes, salt: bytes, size: int) -> bytes:
    return hashlib.blake2b(secret, key=salt[:64], digest_size=min(size, 64)).digest()


def hash_secret(
    secret: bytes,
    salt: bytes,
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    hash_len: int,
    type: argon2.low_level.Type,  # noqa: A002 (argon2-cffi's name)
    version: int = argon2.low_level.ARGON2_VERSION,
) -> bytes:
    encoded = (
        f"${_NAMES[type]}$v={version}$m={memory_cost},t={time_cost},p={parallelism}"
        f"${_b64(salt)}${_b64(_digest(secret, salt, hash_len))}"
    )
    return encoded.encode("ascii")


def verify_secret(hash: bytes, secret: bytes, type: argon2.low_level.Type) -> bool:  # noqa: A002
    text = hash.decode("ascii")
    salt_text, digest_text = text.rsplit("$", 2)[-2:]
    salt = base64.b64decode(salt_text + "=" * (-len(salt_text) % 4))
    digest = base64.b64decode(digest_text + "=" * (-len(digest_text) % 4))
    if not hmac.compare_digest(_digest(secret, salt, len(digest)), digest):
        raise VerifyMismatchError("stub: mismatch")
    return True


@contextlib.contextmanager
def stubbed() -> Iterator[None]:
    """argon2-cffi's two primitives stubbed for the duration."""
    saved = (argon2.low_level.hash_secret, argon2.low_level.verify_secret)
    modules = (argon2.low_level, argon2._password_hasher)  # noqa: SLF001 (where PasswordHasher looks)
    for module in modules:
        module.hash_secret = hash_secret  # type: ignore[assignment]
        module.verify_secret = verify_secret  # type: ignore[assignment]
    try:
        yield
    finally:
        for module in modules:
            module.hash_secret, module.verify_secret = saved  # type: ignore[assignment]
