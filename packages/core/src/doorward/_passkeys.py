"""WebAuthn ceremonies through py_webauthn (``doorward[passkeys]``), plain sync code.

Imported by the passkeys feature when first used (``_async/passkeys.py``), so a site
without the extra starts and only the passkey endpoints say what to install. Nothing
here parses CBOR, COSE or attestation itself: ``webauthn`` does, and refuses a wrong
challenge, origin, RP ID, a missing user presence or verification and a sign count that
did not move forward (W3C WebAuthn L3 §7.1, §7.2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import attrs
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.parse_registration_credential_json import (
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

__all__ = ["CeremonyFailed", "NewPasskey", "PasskeyCeremonies", "Verified", "credential_key"]

#: What the browser is told (a hint: the challenge cookie is what really expires).
_TIMEOUT_MS = 120_000
#: Credential JSON larger than this is refused before parsing.
_MAX_CREDENTIAL_JSON = 16_384


class CeremonyFailed(Exception):
    """The browser's credential did not verify (the reason is for logs, never for clients)."""


@attrs.frozen
class NewPasskey:
    """A verified registration: what the store keeps, base64url text."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: tuple[str, ...]
    user_verified: bool


@attrs.frozen
class Verified:
    """A verified assertion: the new sign count and whether the user was verified."""

    sign_count: int
    user_verified: bool


def credential_key(credential_id: str) -> str:
    """The store's lookup key of a credential ID (base64url): its SHA-256 hex digest."""
    return hashlib.sha256(credential_id.encode("ascii", "replace")).hexdigest()


def _json_object(credential: object) -> dict[str, Any]:
    if isinstance(credential, str):
        if len(credential) > _MAX_CREDENTIAL_JSON:
            raise CeremonyFailed("credential too large")
        try:
            credential = json.loads(credential)
        except ValueError:
            raise CeremonyFailed("credential is not JSON") from None
    if not isinstance(credential, dict):
        raise CeremonyFailed("credential is not a JSON object")
    if len(json.dumps(credential)) > _MAX_CREDENTIAL_JSON:
        raise CeremonyFailed("credential too large")
    return credential


def credential_id_of(credential: object) -> str | None:
    """The canonical base64url credential ID a submitted credential names, or ``None``."""
    try:
        raw = _json_object(credential).get("rawId")
        if not isinstance(raw, str) or not raw or len(raw) > 1400:
            return None
        return bytes_to_base64url(base64url_to_bytes(raw))
    except (CeremonyFailed, ValueError, TypeError):
        return None


def user_handle_of(credential: object) -> str | None:
    """The ``userHandle`` of a submitted assertion (base64url), or ``None``."""
    try:
        response = _json_object(credential).get("response")
        handle = response.get("userHandle") if isinstance(response, dict) else None
        return bytes_to_base64url(base64url_to_bytes(handle)) if isinstance(handle, str) else None
    except (CeremonyFailed, ValueError, TypeError):
        return None


class PasskeyCeremonies:
    """Creation and request options, and the checks of what the browser sends back."""

    def __init__(self, rp_id: str, rp_name: str, origins: Sequence[str]) -> None:
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = list(origins)

    def creation_options(
        self,
        *,
        challenge: bytes,
        user_handle: str,
        user_name: str,
        exclude: Sequence[tuple[str, Sequence[str]]],
    ) -> dict[str, Any]:
        """``navigator.credentials.create`` options as JSON: a discoverable credential
        (resident key required), user verification preferred, the user's passkeys excluded."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=user_name,
            user_id=base64url_to_bytes(user_handle),
            user_display_name=user_name,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(cid, transports) for cid, transports in exclude],
        )
        found: dict[str, Any] = json.loads(options_to_json(options))
        return found

    def request_options(
        self,
        *,
        challenge: bytes,
        allow: Sequence[tuple[str, Sequence[str]]] = (),
        require_uv: bool,
    ) -> dict[str, Any]:
        """``navigator.credentials.get`` options as JSON (no ``allow``: discoverable)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            allow_credentials=[_descriptor(cid, transports) for cid, transports in allow],
            user_verification=UserVerificationRequirement.REQUIRED
            if require_uv
            else UserVerificationRequirement.PREFERRED,
        )
        found: dict[str, Any] = json.loads(options_to_json(options))
        return found

    def verify_registration(self, credential: object, challenge: bytes) -> NewPasskey:
        """The registration's new passkey; ``CeremonyFailed`` when anything is off."""
        try:
            parsed = parse_registration_credential_json(_json_object(credential))
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                require_user_verification=False,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise CeremonyFailed(str(exc)[:200]) from None
        transports = tuple(t.value for t in parsed.response.transports or ())
        return NewPasskey(
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=transports[:8],
            user_verified=verified.user_verified,
        )

    def verify_assertion(
        self,
        credential: object,
        challenge: bytes,
        *,
        public_key: str,
        sign_count: int,
        require_uv: bool,
    ) -> Verified:
        """Check an assertion against the stored key and count; ``CeremonyFailed`` if not."""
        try:
            parsed = parse_authentication_credential_json(_json_object(credential))
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=base64url_to_bytes(public_key),
                credential_current_sign_count=sign_count,
                require_user_verification=require_uv,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise CeremonyFailed(str(exc)[:200]) from None
        return Verified(sign_count=verified.new_sign_count, user_verified=verified.user_verified)


def _descriptor(credential_id: str, transports: Sequence[str]) -> PublicKeyCredentialDescriptor:
    known = [AuthenticatorTransport(t) for t in transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(credential_id), transports=known or None
    )


_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
