# Generated from packages/core/src/doorward/_async/passkeys.py by scripts/unasync.py. Do not edit: edit the source.
"""The passkeys feature (MF-07): WebAuthn credentials as a second factor and as a
sign-in without a password, checked by py_webauthn (``doorward[passkeys]``).

A passkey is a ``passkey`` authenticator (``doorward.records.Authenticator``) added from
a fresh session under ``/mfa/passkeys``. After the right password, the MFA feature asks
for it like a TOTP code (``POST /login/mfa`` with ``credential``); ``/login/passkey``
signs in with a discoverable credential whose authenticator verified the user (UV): that
proves possession and a PIN or biometric, so it counts as both factors and no second
step follows.

Challenges: every ceremony's options come with a random 32-byte challenge kept in a
signed, HttpOnly cookie of at most 5 minutes (``Settings.passkey_challenge_max_age``),
naming its purpose and what it is bound to (the user, or the pending login): only the
browser that asked can answer it. Single use: a registration's credential ID is unique;
an assertion is accepted by one conditional store update (``use_passkey``) that moves the
sign count and last use only if the challenge was issued after the passkey's last use,
so a replayed or parallel assertion is refused, also for authenticators whose count stays 0.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from doorward import _rules
from doorward._sync.context import Context
from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.protocols import (
    Authenticators,
    Credentials,
    Users,
)
from doorward._rules import Identity
from doorward.exceptions import (
    ConfigurationError,
    DoorwardError,
    InvalidCredentials,
    NotFound,
    ReauthRequired,
    ValidationFailed,
)
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.records import Authenticator
from doorward.routing import Route, endpoint
from doorward.web import Call

__all__ = ["PasskeyStore", "Passkeys"]

_NO_STORE = {"Cache-Control": "no-store"}
#: Challenge cookie purposes: register a passkey, the second step, passwordless sign-in.
_PURPOSES = frozenset({"register", "mfa", "login"})


def _ceremonies() -> Any:
    """``doorward._passkeys``, or a clear error naming the extra to install."""
    try:
        from doorward import _passkeys  # noqa: PLC0415 (optional extra)
    except ImportError as exc:
        raise ConfigurationError(
            "passkeys need the passkeys extra: pip install 'doorward[passkeys]' (webauthn)"
        ) from exc
    return _passkeys


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def passkey_json(authenticator: Authenticator) -> dict[str, Any]:
    """A passkey as ``GET /mfa`` lists it (never its key)."""
    return {
        "id": authenticator.id,
        "name": authenticator.name,
        "created_at": iso(authenticator.created_at),
        "last_used_at": iso(authenticator.last_used_at),
    }


class PasskeyStore(Protocol):
    """The passkeys capability: WebAuthn credentials, kept as ``passkey`` authenticators.

    A store with it has ``Authenticators`` too. A passkey's ``secret`` (the SHA-256
    hex of its credential ID) is unique among all users' passkeys: a second
    ``create_authenticator`` with it raises, writing nothing (MF-07: a credential ID
    belongs to one user), also under concurrency (a unique index, never read first).
    ``doorward.testing.AuthenticatorsContract`` checks every rule below.
    """

    def get_passkey(self, secret: str) -> tuple[Authenticator, Any] | None:
        """The passkey with this ``secret`` together with its user, or ``None`` (one
        indexed lookup: the passwordless sign-in starts from the credential ID alone)."""

    def use_passkey(
        self,
        authenticator_id: str,
        *,
        old_count: int,
        new_count: int,
        at: datetime,
        issued_at: datetime,
    ) -> bool:
        """Record one accepted assertion, once (MF-07).

        One conditional update (``UPDATE ... SET sign_count = :new, last_used_at = :at
        WHERE id = ? AND kind = 'passkey' AND sign_count = :old AND (last_used_at IS NULL
        OR last_used_at < :issued_at)``): ``True`` only to the one call that moved it. A
        parallel use of the same assertion, or any assertion of a challenge issued before
        the passkey's last use, gets ``False``.
        """

    def delete_passkey(self, authenticator_id: str, user_id: str) -> bool:
        """Delete one passkey of this user; ``True`` only to the call that removed it."""


class _Challenges:
    """Challenges in a signed cookie: purpose, binding, the challenge and when it was made."""

    def __init__(self, ctx: Context) -> None:
        clock = ctx.clock

        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        self._clock = clock
        self._max_age = ctx.settings.passkey_challenge_max_age
        self._serializer = URLSafeTimedSerializer(
            list(ctx.settings.secret_keys), salt="doorward.passkey-challenge", signer=_ClockSigner
        )

    def issue(self, purpose: str, bound: str, **kept: str) -> tuple[bytes, str]:
        """A new challenge and the cookie value that keeps it."""
        challenge = secrets.token_bytes(32)
        payload = {
            "p": purpose,
            "b": bound,
            "c": challenge.hex(),
            "t": self._clock.now().isoformat(),
            **kept,
        }
        return challenge, str(self._serializer.dumps(payload))

    def take(
        self, cookie: object, purpose: str, bound: str
    ) -> tuple[bytes, datetime, dict[str, Any]]:
        """``(challenge, issued_at, payload)`` of a live cookie of this purpose and binding;
        ``InvalidCredentials`` otherwise (forged, expired, another browser's or step's)."""
        if not isinstance(cookie, str) or not cookie or len(cookie) > 1024:
            raise InvalidCredentials
        try:
            payload = self._serializer.loads(cookie, max_age=int(self._max_age.total_seconds()))
            issued = datetime.fromisoformat(payload["t"])
            challenge = bytes.fromhex(payload["c"])
        except (BadData, KeyError, TypeError, ValueError):
            raise InvalidCredentials from None
        if (
            payload.get("p") != purpose
            or purpose not in _PURPOSES
            or payload.get("b") != bound
            or issued.utcoffset() is None
            or not issued <= self._clock.now() <= issued + self._max_age
        ):
            raise InvalidCredentials
        return challenge, issued, payload


class Passkeys(Feature):
    """``/mfa/passkeys``, ``/login/mfa/passkey-options``, ``/login/passkey``, the script."""

    name = "passkeys"
    capabilities = (Users, Credentials, Authenticators, PasskeyStore)
    mails = ("mfa_changed",)
    mail_placeholders = frozenset({"change"})
    events = frozenset({"passkey_added", "passkey_removed"})
    notices = {  # noqa: RUF012 (read-only class data)
        "passkey_added": N_("The passkey was added."),
        "passkey_removed": N_("The passkey was removed."),
    }

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._made: Any = None
        self.challenges = _Challenges(ctx)
        self.cookie_name = self.settings.cookie_name(self.settings.passkey_cookie)

    @property
    def ceremonies(self) -> Any:
        """The WebAuthn checks (``doorward[passkeys]``), built on first use."""
        if self._made is None:
            made = _ceremonies()
            settings = self.settings
            self._made = (
                made,
                made.PasskeyCeremonies(settings.rp_id, settings.rp_name, settings.rp_origins),
            )
        return self._made[1]

    @property
    def _module(self) -> Any:
        _ = self.ceremonies
        return self._made[0]

    @property
    def login_feature(self) -> Login:
        return self.ctx.feature(Login)

    def routes(self) -> Any:
        """This feature's endpoints; the pages learn that passkeys are on."""
        self.web.page_context["passkeys"] = True
        routes: list[Route] = list(super().routes())
        return iter(routes)

    def _cookie(self, value: str | None) -> Any:
        max_age = int(self.settings.passkey_challenge_max_age.total_seconds())
        return self.web.cookie(self.cookie_name, value, max_age if value else None)

    # -- reading -----------------------------------------------------------------------------

    def passkeys_of(self, user: Any) -> list[Authenticator]:
        """The user's passkeys, oldest first."""
        found: list[Authenticator] = self.store.list_authenticators(str(user.id), "passkey")
        return found

    def listed(self, user: Any) -> list[dict[str, Any]]:
        """``GET /mfa``'s ``passkeys``."""
        return [passkey_json(a) for a in self.passkeys_of(user)]

    @staticmethod
    def _descriptors(found: list[Authenticator]) -> list[tuple[str, tuple[str, ...]]]:
        return [(a.credential_id, a.transports) for a in found if a.credential_id]

    # -- registration (fresh session; MF-06 notice) --------------------------------------------

    def _fresh(self, identity: Identity) -> None:
        if identity.via != "session":
            raise ReauthRequired(N_("This needs a browser session."))
        self.login_feature.require_fresh(identity)

    def registration_options(self, identity: Identity) -> tuple[dict[str, Any], str]:
        """Creation options for a new passkey of this user, and the challenge cookie."""
        self._fresh(identity)
        user = identity.user
        found = self.passkeys_of(user)
        handle = next((a.user_handle for a in found if a.user_handle), None)
        if handle is None:
            handle = secrets.token_urlsafe(32)
        challenge, cookie = self.challenges.issue("register", str(user.id), h=handle)
        options = self.ceremonies.creation_options(
            challenge=challenge,
            user_handle=handle,
            user_name=user.email,
            exclude=self._descriptors(found),
        )
        return options, cookie

    def add_passkey(
        self, identity: Identity, credential: object, name: object, cookie: object
    ) -> tuple[Authenticator, list[str] | None]:
        """Verify the browser's new credential and keep it: ``(passkey, recovery codes)``;
        the codes are a first set when the user had none (shown once), else ``None``."""
        self._fresh(identity)
        user = identity.user
        label = "Passkey" if name in (None, "") else name
        if not isinstance(label, str) or len(label.strip()) > 100 or not label.strip():
            raise ValidationFailed(
                {"name": [N_("Give the passkey a name of up to 100 characters.")]}
            )
        refused = ValidationFailed(
            {"credential": [N_("The passkey could not be checked; try again.")]}
        )
        try:
            challenge, _, kept = self.challenges.take(cookie, "register", str(user.id))
        except InvalidCredentials:
            raise refused from None
        module = self._module
        try:
            made = self.ceremonies.verify_registration(credential, challenge)
        except module.CeremonyFailed:
            raise refused from None
        key = module.credential_key(made.credential_id)
        if self.store.get_passkey(key) is not None:
            raise ValidationFailed({"credential": [N_("This passkey is registered already.")]})
        now = self.ctx.clock.now()
        passkey = Authenticator(
            id="a" + secrets.token_urlsafe(12),
            user_id=str(user.id),
            kind="passkey",
            secret=key,
            created_at=now,
            confirmed_at=now,
            name=label.strip(),
            credential_id=made.credential_id,
            public_key=made.public_key,
            sign_count=made.sign_count,
            transports=made.transports,
            user_handle=str(kept.get("h") or ""),
        )
        try:
            self.store.create_authenticator(passkey)
        except NotFound:
            raise
        except (ValueError, DoorwardError):
            if self.store.get_passkey(key) is None:
                raise
            raise ValidationFailed(
                {"credential": [N_("This passkey is registered already.")]}
            ) from None
        codes = None
        mfa = self.ctx.features.get("mfa")
        if mfa is not None and not self.store.list_authenticators(str(user.id), "recovery"):
            codes = mfa.new_recovery_codes(user)
        self.ctx.events.emit("passkey_added", user_id=str(user.id))
        self._notify(
            user, N_("A passkey (%(name)s) was added to your account.", name=passkey.name)
        )
        return passkey, codes

    def remove_passkey(self, identity: Identity, passkey_id: str) -> None:
        """Delete one of the user's passkeys; the last factor stays while MFA is required.
        Trusted browsers end (MF-09); with no factor left the recovery codes go too."""
        self._fresh(identity)
        user = identity.user
        found = self.passkeys_of(user)
        if not any(a.id == passkey_id for a in found):
            raise NotFound
        mfa = self.ctx.features.get("mfa")
        totp = mfa.confirmed_totp(user) if mfa is not None else None
        last = totp is None and len(found) == 1
        if last and mfa is not None and mfa.mfa_required(user):
            raise ValidationFailed({"passkey": [N_("This site requires a second factor.")]})
        if not self.store.delete_passkey(passkey_id, str(user.id)):
            raise NotFound
        if last:
            self.store.delete_authenticators(str(user.id), ["recovery"])
        self.store.delete_credentials(str(user.id), ["trust"])
        self.ctx.events.emit("passkey_removed", user_id=str(user.id))
        self._notify(user, N_("A passkey was removed from your account."))

    def _notify(self, user: Any, change: str) -> None:
        self.ctx.mail(
            "mfa_changed", user.email, link=self.settings.url("/mfa"), values={"change": change}
        )

    # -- assertions ----------------------------------------------------------------------------

    def _accept(
        self,
        passkey: Authenticator,
        credential: object,
        challenge: bytes,
        issued: datetime,
        *,
        require_uv: bool,
    ) -> bool:
        """Verify one assertion of ``passkey`` and record it once (the store decides)."""
        if passkey.public_key is None:
            return False
        module = self._module
        try:
            verified = self.ceremonies.verify_assertion(
                credential,
                challenge,
                public_key=passkey.public_key,
                sign_count=passkey.sign_count or 0,
                require_uv=require_uv,
            )
        except module.CeremonyFailed:
            return False
        if require_uv and not verified.user_verified:
            return False
        accepted: bool = self.store.use_passkey(
            passkey.id,
            old_count=passkey.sign_count or 0,
            new_count=verified.sign_count,
            at=self.ctx.clock.now(),
            issued_at=issued,
        )
        return accepted

    def second_step_options(self, pending_token: object) -> tuple[dict[str, Any], str]:
        """Request options naming the pending user's passkeys, and the challenge cookie."""
        found = self.login_feature.pending_login(pending_token)
        if found is None:
            raise InvalidCredentials
        pending, user = found
        passkeys = self.passkeys_of(user)
        if not passkeys:
            raise InvalidCredentials
        challenge, cookie = self.challenges.issue("mfa", pending.id)
        options = self.ceremonies.request_options(
            challenge=challenge, allow=self._descriptors(passkeys), require_uv=False
        )
        return options, cookie

    def check_second_step(
        self, user: Any, pending_id: str, credential: object, cookie: object
    ) -> bool:
        """Whether ``credential`` is a fresh assertion of one of ``user``'s passkeys, made
        for this pending login's challenge in this browser (accepted once)."""
        try:
            challenge, issued, _ = self.challenges.take(cookie, "mfa", pending_id)
        except InvalidCredentials:
            return False
        credential_id = self._module.credential_id_of(credential)
        passkey = next(
            (a for a in self.passkeys_of(user) if a.credential_id == credential_id),
            None,
        )
        if credential_id is None or passkey is None:
            return False
        return self._accept(passkey, credential, challenge, issued, require_uv=False)

    def passwordless_options(self, ip: str | None) -> tuple[dict[str, Any], str]:
        """Options for a discoverable credential with user verification required."""
        self.ctx.limit("login", ip)
        challenge, cookie = self.challenges.issue("login", "")
        return self.ceremonies.request_options(challenge=challenge, require_uv=True), cookie

    def passwordless(self, credential: object, cookie: object, *, ip: str | None) -> Any:
        """The user whose passkey made this assertion, with user verification (MF-07).

        Every refusal is ``InvalidCredentials``: an unknown credential, another browser's
        or a used challenge, a wrong origin or RP ID, no UV, a sign count gone back, a
        user handle that is not the passkey's, an inactive or locked account.
        """
        ctx = self.ctx
        ctx.limit("login", ip)
        challenge, issued, _ = self.challenges.take(cookie, "login", "")
        module = self._module
        credential_id = module.credential_id_of(credential)
        found = (
            self.store.get_passkey(module.credential_key(credential_id))
            if credential_id is not None
            else None
        )
        if found is None:
            ctx.events.emit("login_failed", reason="unknown_passkey", ip=ip)
            raise InvalidCredentials
        passkey, user = found
        handle = module.user_handle_of(credential)
        now = ctx.clock.now()
        refused = (
            handle is None
            or handle != passkey.user_handle
            or not user.active
            or (self.settings.confirm_required and user.confirmed_at is None)
            or _rules.lockout_wait(
                user.failed_logins, user.last_failed_login_at, now, self.settings
            )
            is not None
        )
        if refused or not self._accept(
            passkey, credential, challenge, issued, require_uv=True
        ):
            ctx.events.emit("login_failed", user_id=str(user.id), reason="passkey", ip=ip)
            raise InvalidCredentials
        return user

    # -- endpoints -------------------------------------------------------------------------

    def _options_response(self, options: dict[str, Any], cookie: str) -> HttpResponse:
        response = HttpResponse(json={"options": options}, headers=dict(_NO_STORE))
        response.cookies.append(self._cookie(cookie))
        return response

    @endpoint("GET", "/assets/passkeys.js", json=False, media_type="text/javascript")
    def script(self, call: Call) -> HttpResponse:  # noqa: ARG002 (every handler takes the call)
        """The WebAuthn calls of the pages (no inline script: a CSP may forbid those)."""
        return HttpResponse(
            page="doorward/passkeys.js",
            # the headers of every answer (no-store too: HD-01 makes no exception)
            headers={"Content-Type": "text/javascript; charset=utf-8"},
        )

    @endpoint("POST", "/mfa/passkeys/options", access="session")
    def registration_options_submit(self, call: Call) -> HttpResponse:
        """``{"options"}``: creation options for ``navigator.credentials.create``."""
        options, cookie = self.registration_options(call.current)
        return self._options_response(options, cookie)

    @endpoint(
        "POST",
        "/mfa/passkeys",
        access="session",
        form="doorward/mfa.html",
        body={"credential": object, "name": str},
        required=("credential",),
        status=201,
    )
    def add_passkey_submit(self, call: Call) -> HttpResponse:
        """The browser's new credential and a name → 201 ``{"passkey"}`` (and the first
        ``recovery_codes`` when the user had none, shown once)."""
        passkey, codes = self.add_passkey(
            call.current,
            call.field("credential"),
            call.field("name"),
            call.request.cookies.get(self.cookie_name),
        )
        if call.as_json:
            body: dict[str, Any] = {"passkey": passkey_json(passkey)}
            if codes is not None:
                body["recovery_codes"] = codes
            response = HttpResponse(status=201, json=body, headers=dict(_NO_STORE))
        elif codes is not None:
            response = self.web.page(call.request, "doorward/mfa_recovery_codes.html", codes=codes)
            response.headers.update(_NO_STORE)
        else:
            response = self.web.redirect("/mfa?notice=passkey_added")
        response.cookies.append(self._cookie(None))
        return response

    @endpoint("DELETE", "/mfa/passkeys/{passkey_id}", access="session", status=204)
    @endpoint(
        "POST", "/mfa/passkeys/{passkey_id}/delete", access="session", form="doorward/mfa.html"
    )
    def remove_passkey_submit(self, call: Call) -> HttpResponse:
        """Remove one passkey (204; browsers go back to /mfa)."""
        self.remove_passkey(call.current, call.params["passkey_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/mfa?notice=passkey_removed")

    @endpoint("POST", "/login/mfa/passkey-options", limit="login_mfa")
    def second_step_options_submit(self, call: Call) -> HttpResponse:
        """``{"options"}`` for the pending login's second step with a passkey."""
        self.ctx.limit("login_mfa", call.ip)
        options, cookie = self.second_step_options(
            call.request.cookies.get(self.web.mfa_cookie)
        )
        return self._options_response(options, cookie)

    @endpoint("POST", "/login/passkey/options", limit="login")
    def passwordless_options_submit(self, call: Call) -> HttpResponse:
        """``{"options"}`` for a sign-in with a discoverable passkey (UV required)."""
        options, cookie = self.passwordless_options(call.ip)
        return self._options_response(options, cookie)

    @endpoint(
        "POST",
        "/login/passkey",
        limit="login",
        form="doorward/login.html",
        body={"credential": object, "next": str},
        required=("credential",),
    )
    def passwordless_submit(self, call: Call) -> HttpResponse:
        """An assertion of a discoverable passkey with UV → ``{"user"}`` and a session."""
        user = self.passwordless(
            call.field("credential"),
            call.request.cookies.get(self.cookie_name),
            ip=call.ip,
        )
        response = self.login_feature.sign_in(call, user, factors_checked=True)
        response.cookies.append(self._cookie(None))
        return response
