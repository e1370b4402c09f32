"""A software WebAuthn authenticator for tests: real ES256 keys, real CBOR, real signatures.

It answers the options doorward hands out the way a browser plus a platform authenticator
would (attestation ``none``; a discoverable credential with a user handle), so the product
verifies its output with py_webauthn exactly as it verifies a phone's. Knobs make it lie
about the origin, the RP ID, user verification or its counter, for the MF-07 tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SoftAuthenticator", "b64"]

_UP, _UV, _AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one authenticator: ``create`` registers it, ``get`` asserts."""

    def __init__(self, origin: str, rp_id: str, *, counting: bool = False) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.counting = counting
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle: bytes | None = None

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None
    ) -> dict[str, Any]:
        """The browser's JSON for ``navigator.credentials.create(options)``."""
        assert options["authenticatorSelection"]["residentKey"] == "required"
        self.user_handle = unb64(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        auth_data = (
            rp_hash
            + bytes([_UP | _UV | _AT])
            + struct.pack(">I", self.counter)
            + bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        counter: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """The browser's JSON for ``navigator.credentials.get(options)``."""
        allowed = [d["id"] for d in options.get("allowCredentials", [])]
        assert not allowed or b64(self.credential_id) in allowed
        if counter is None:
            if self.counting:
                self.counter += 1
            counter = self.counter
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        flags = _UP | (_UV if uv else 0)
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", counter)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        handle = user_handle if user_handle is not None else self.user_handle
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(handle) if handle is not None else None,
            },
        }
