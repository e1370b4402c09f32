"""Second factors: TOTP apps, recovery codes, the second login step and trusted browsers.

Active only for users who enrol: ``second_factor`` asks for a code once a TOTP
authenticator is confirmed. Secrets are encrypted at rest and codes stored as keyed
hashes (MF-01, MF-04); a TOTP time step is accepted once, atomically, by the store
(MF-02); second-step failures count on the lockout counter (MF-03). TOTP and the QR code
need ``doorward[mfa]`` (``doorward._mfa_crypto``), imported when first used.
``passkey`` authenticators have their kind reserved for the passkeys feature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from doorward import _rules
from doorward._async.feature import AsyncFeature
from doorward._async.login import AsyncLogin
from doorward._async.protocols import AsyncAuthenticators, AsyncCredentials, AsyncUsers
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import (
    ConfigurationError,
    InvalidCredentials,
    NotFound,
    ReauthRequired,
    ValidationFailed,
)
from doorward.http import HttpResponse
from doorward.records import Authenticator
from doorward.routing import endpoint
from doorward.web import Call, checkbox

__all__ = ["AsyncMfa"]

_NO_STORE = {"Cache-Control": "no-store"}
#: Recovery codes: 12 characters of this alphabet (32 symbols: 60 bits), shown as 3 groups.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_CODE_LENGTH = 12


def _mfa_crypto() -> Any:
    """``doorward._mfa_crypto.TotpCodes``, or a clear error naming the extra to install."""
    try:
        from doorward._mfa_crypto import TotpCodes  # noqa: PLC0415 (optional extra)
    except ImportError as exc:
        raise ConfigurationError(
            "TOTP needs the mfa extra: pip install 'doorward[mfa]' (pyotp, segno, cryptography)"
        ) from exc
    return TotpCodes


def _normalized_code(code: object) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = "".join(code.split()).replace("-", "").lower()
    return text or None


class AsyncMfa(AsyncFeature):
    """``/mfa``: enrol a TOTP app, recovery codes, trusted browsers; ``/login/mfa``."""

    name = "mfa"
    capabilities = (AsyncUsers, AsyncCredentials, AsyncAuthenticators)
    mails = ("mfa_changed",)
    mail_placeholders = frozenset({"change"})
    events = frozenset(
        {"login_mfa_required", "mfa_enabled", "mfa_disabled", "recovery_codes_regenerated"}
    )
    notices = {  # noqa: RUF012 (read-only class data)
        "mfa_enabled": "Two-factor authentication is on.",
        "mfa_disabled": "The authenticator app was removed.",
        "trust_revoked": "That browser is no longer trusted.",
        "mfa_enrolment_required": "This site requires two-factor authentication: set it up.",
    }

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._codes: Any = None
        self._recovery_keys = [
            hmac.new(key.encode(), b"doorward.mfa.recovery-key", hashlib.sha256).digest()
            for key in reversed(self.settings.secret_keys)
        ]

    @property
    def totp(self) -> Any:
        """The TOTP helper (``doorward[mfa]``), built on first use."""
        if self._codes is None:
            self._codes = _mfa_crypto()(self.settings.secret_keys)
        return self._codes

    @property
    def login_feature(self) -> AsyncLogin:
        """The login feature, whose pending logins this one completes."""
        return self.ctx.feature(AsyncLogin)

    # -- reading -----------------------------------------------------------------------------

    async def confirmed_totp(self, user: Any) -> Authenticator | None:
        """The user's active TOTP authenticator, or ``None``."""
        found = await self.store.list_authenticators(str(user.id), "totp")
        return next((a for a in found if a.confirmed_at is not None), None)

    async def second_factor(self, user: Any, *, trust_token: str | None = None) -> list[str]:
        """``["totp", "recovery"]`` for an enrolled user, unless this browser is trusted."""
        if await self.confirmed_totp(user) is None:
            return []
        if trust_token is not None and await self._trusted(user, trust_token):
            return []
        return ["totp", "recovery"]

    async def _trusted(self, user: Any, token: str) -> bool:
        secret_hash = self.ctx.secrets.secret_hash("trust", token)
        found = await self.store.get_credential("trust", secret_hash) if secret_hash else None
        if found is None:
            return False
        credential, owner = found
        now = self.ctx.clock.now()
        return str(owner.id) == str(user.id) and _rules.credential_alive(
            credential, owner, now, self.settings
        )

    async def mfa_required(self, user: Any) -> bool:
        """Whether the site requires a second factor of ``user`` (everyone, or by role)."""
        if self.settings.require_mfa:
            return True
        wanted = self.settings.require_mfa_roles
        if not wanted or not hasattr(self.store, "get_user_roles"):
            return False
        return bool(wanted & await self.store.get_user_roles(user))

    async def enrolment_required(self, user: Any) -> bool:
        """Required of this user, and no factor yet: the site sends them to /mfa."""
        return await self.mfa_required(user) and await self.confirmed_totp(user) is None

    async def status(self, user: Any) -> dict[str, Any]:
        """``GET /mfa``'s body: the factors (never a secret), codes left, trusted browsers."""
        totp = await self.confirmed_totp(user)
        codes = await self.store.list_authenticators(str(user.id), "recovery")
        browsers = await self.ctx.live_credentials(user, "trust")
        return {
            "enabled": totp is not None,
            "totp": None
            if totp is None
            else {
                "id": totp.id,
                "created_at": _iso(totp.confirmed_at),
                "last_used_at": _iso(totp.last_used_at),
            },
            "passkeys": [],
            "recovery_codes_left": len(codes),
            "trusted_browsers": [
                {
                    "id": c.id,
                    "created_at": _iso(c.created_at),
                    "expires_at": _iso(c.expires_at),
                    "user_agent": c.user_agent,
                }
                for c in browsers
            ],
        }

    # -- enrolment (MF-01, MF-06) ------------------------------------------------------------

    def _fresh(self, identity: Identity) -> None:
        if identity.via != "session":
            raise ReauthRequired("This needs a browser session.")
        self.login_feature.require_fresh(identity)

    async def start_totp(self, identity: Identity) -> tuple[str, str, str]:
        """Begin enrolment: ``(secret, otpauth_uri, qr_svg)``; nothing is active yet."""
        self._fresh(identity)
        user = identity.user
        if await self.confirmed_totp(user) is not None:
            raise ValidationFailed({"totp": ["An authenticator app is set up; remove it first."]})
        secret = self.totp.new_secret()
        await self.store.delete_authenticators(str(user.id), ["totp"])
        await self.store.create_authenticator(
            Authenticator(
                id="a" + secrets.token_urlsafe(12),
                user_id=str(user.id),
                kind="totp",
                secret=self.totp.encrypt(secret),
                created_at=self.ctx.clock.now(),
            )
        )
        uri = self.totp.uri(secret, account=user.email, issuer=self.settings.totp_issuer)
        return secret, uri, self.totp.qr_svg(uri)

    async def confirm_totp(self, identity: Identity, code: object) -> list[str]:
        """One valid code activates the app; the first recovery codes, shown once."""
        self._fresh(identity)
        user = identity.user
        found = await self.store.list_authenticators(str(user.id), "totp")
        pending = next((a for a in found if a.confirmed_at is None), None)
        refused = ValidationFailed({"code": ["That code is not right; try the next one."]})
        if pending is None:
            raise ValidationFailed({"code": ["Start the set-up again."]})
        secret = self.totp.decrypt(pending.secret)
        text = _normalized_code(code)
        now = self.ctx.clock.now()
        step = None
        if secret is not None and text is not None:
            step = self.totp.matching_step(secret, text, now)
        if step is None:
            raise refused
        if not await self.store.confirm_authenticator(pending.id, now):
            raise refused
        await self.store.accept_totp_step(pending.id, step, now)
        codes = await self._new_recovery_codes(user)
        self.ctx.events.emit("mfa_enabled", user_id=str(user.id), kind="totp")
        await self._notify(user, "An authenticator app was added to your account.")
        return codes

    async def disable_totp(self, identity: Identity) -> None:
        """Remove the app and its recovery codes; trusted browsers end too (MF-09)."""
        self._fresh(identity)
        user = identity.user
        if await self.confirmed_totp(user) is None:
            raise NotFound
        if await self.mfa_required(user):
            raise ValidationFailed({"totp": ["This site requires a second factor."]})
        await self.store.delete_authenticators(str(user.id), ["totp", "recovery"])
        await self.store.delete_credentials(str(user.id), ["trust"])
        self.ctx.events.emit("mfa_disabled", user_id=str(user.id), kind="totp")
        await self._notify(user, "The authenticator app was removed from your account.")

    async def regenerate_recovery_codes(self, identity: Identity) -> list[str]:
        """A new set of recovery codes, shown once; the old set is dead (MF-04)."""
        self._fresh(identity)
        user = identity.user
        if await self.confirmed_totp(user) is None:
            raise ValidationFailed({"totp": ["Set up an authenticator app first."]})
        codes = await self._new_recovery_codes(user)
        self.ctx.events.emit("recovery_codes_regenerated", user_id=str(user.id))
        await self._notify(user, "New recovery codes were made; the old ones no longer work.")
        return codes

    async def _new_recovery_codes(self, user: Any) -> list[str]:
        await self.store.delete_authenticators(str(user.id), ["recovery"])
        now = self.ctx.clock.now()
        codes = []
        for _ in range(self.settings.mfa_recovery_codes):
            raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
            await self.store.create_authenticator(
                Authenticator(
                    id="a" + secrets.token_urlsafe(12),
                    user_id=str(user.id),
                    kind="recovery",
                    secret=self._recovery_hash(self._recovery_keys[0], raw),
                    created_at=now,
                )
            )
            codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        return codes

    @staticmethod
    def _recovery_hash(key: bytes, code: str) -> str:
        return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()

    async def _notify(self, user: Any, change: str) -> None:
        await self.ctx.mail(
            "mfa_changed", user.email, link=self.settings.url("/mfa"), values={"change": change}
        )

    # -- the second login step (MF-02, MF-03, MF-05) -----------------------------------------

    async def check_code(self, user: Any, code: object) -> bool:
        """Whether ``code`` is a current TOTP code (accepted once) or an unused recovery code."""
        text = _normalized_code(code)
        if text is None:
            return False
        if text.isdigit() and len(text) == 6:
            totp = await self.confirmed_totp(user)
            secret = None if totp is None else self.totp.decrypt(totp.secret)
            if totp is None or secret is None:
                return False
            now = self.ctx.clock.now()
            step = self.totp.matching_step(secret, text, now)
            return step is not None and await self.store.accept_totp_step(totp.id, step, now)
        for key in self._recovery_keys:
            if await self.store.use_recovery_code(str(user.id), self._recovery_hash(key, text)):
                return True
        return False

    async def verify_login(
        self,
        pending_token: object,
        code: object,
        *,
        trust_device: bool = False,
        ip: str | None = None,
        user_agent: str | None = None,
        replacing: Identity | None = None,
    ) -> tuple[Any, IssuedSession, str | None]:
        """The second factor of a pending login → ``(user, issued, trust_token or None)``.

        Every refusal is ``InvalidCredentials``: a wrong code, a used one, an expired or
        unknown pending login look the same (MF-03). Wrong codes count on the lockout
        counter, so the second factor locks like the password does.
        """
        ctx = self.ctx
        await ctx.limit("login_mfa", ip)
        found = await self.login_feature.pending_login(pending_token)
        if found is None:
            raise InvalidCredentials
        pending, user = found
        now = ctx.clock.now()
        wait = _rules.lockout_wait(
            user.failed_logins, user.last_failed_login_at, now, self.settings
        )
        if wait is not None or not await self.check_code(user, code):
            count = await self.store.increment_failed_logins(user, now)
            reason = "locked" if wait is not None else "second_factor"
            ctx.events.emit("login_failed", user_id=str(user.id), reason=reason, ip=ip)
            if wait is None and count == self.settings.lockout_threshold:
                ctx.events.emit("account_locked", user_id=str(user.id), ip=ip)
                await ctx.mail("account_locked", user.email, link=self.settings.url("/reset"))
            raise InvalidCredentials
        user, issued = await self.login_feature.complete_login(
            pending, user, ip=ip, user_agent=user_agent, replacing=replacing
        )
        trust = None
        if trust_device and self.settings.mfa_trust_lifetime:
            trust, credential = ctx.new_credential(
                user,
                "trust",
                now,
                expires_at=now + self.settings.mfa_trust_lifetime,
                ip=ip,
                user_agent=(user_agent or "")[:256] or None,
            )
            await self.store.create_credential(credential)
        return user, issued, trust

    async def revoke_trust(self, user: Any, credential_id: str) -> None:
        """Stop trusting one browser; ``NotFound`` if it is not the user's."""
        trusted = await self.store.list_credentials(str(user.id), "trust")
        if not any(c.id == credential_id for c in trusted):
            raise NotFound
        await self.store.delete_credential(credential_id, str(user.id))

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/mfa", access="session")
    async def mfa_page(self, call: Call) -> HttpResponse:
        """The user's factors, recovery codes left and trusted browsers."""
        body = {"mfa": await self.status(call.current.user)}
        if call.as_json:
            return HttpResponse(json=body)
        return self.web.page(call.request, "doorward/mfa.html", mfa=body["mfa"])

    @endpoint("POST", "/mfa/totp", access="session", form="doorward/mfa.html")
    async def start_totp_submit(self, call: Call) -> HttpResponse:
        """Start TOTP enrolment: the secret, its URI and QR code, shown this once."""
        secret, uri, svg = await self.start_totp(call.current)
        if call.as_json:
            body = {"secret": secret, "otpauth_uri": uri, "qr_svg": svg}
            return HttpResponse(json=body, headers=dict(_NO_STORE))
        response = self.web.page(
            call.request, "doorward/mfa_totp.html", secret=secret, otpauth_uri=uri, qr_svg=svg
        )
        response.headers.update(_NO_STORE)
        return response

    @endpoint("POST", "/mfa/totp/confirm", access="session", form="doorward/mfa_totp.html")
    async def confirm_totp_submit(self, call: Call) -> HttpResponse:
        """A code from the app → active, and the recovery codes, shown once."""
        codes = await self.confirm_totp(call.current, call.field("code"))
        return self._codes_response(call, codes)

    @endpoint("DELETE", "/mfa/totp", access="session")
    @endpoint("POST", "/mfa/totp/delete", access="session", form="doorward/mfa.html")
    async def disable_totp_submit(self, call: Call) -> HttpResponse:
        """Remove the app and its recovery codes (204; browsers go back to /mfa)."""
        await self.disable_totp(call.current)
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/mfa?notice=mfa_disabled")

    @endpoint("POST", "/mfa/recovery-codes", access="session", form="doorward/mfa.html")
    async def recovery_codes_submit(self, call: Call) -> HttpResponse:
        """A new set of recovery codes, shown once; the old set is dead."""
        codes = await self.regenerate_recovery_codes(call.current)
        return self._codes_response(call, codes)

    def _codes_response(self, call: Call, codes: list[str]) -> HttpResponse:
        if call.as_json:
            return HttpResponse(json={"recovery_codes": codes}, headers=dict(_NO_STORE))
        response = self.web.page(call.request, "doorward/mfa_recovery_codes.html", codes=codes)
        response.headers.update(_NO_STORE)
        return response

    @endpoint("DELETE", "/mfa/trusted/{trust_id}", access="session")
    @endpoint("POST", "/mfa/trusted/{trust_id}/revoke", access="session")
    async def revoke_trust_submit(self, call: Call) -> HttpResponse:
        """Stop trusting one browser (204; browsers go back to /mfa)."""
        await self.revoke_trust(call.current.user, call.params["trust_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/mfa?notice=trust_revoked")

    @endpoint("GET", "/login/mfa")
    async def login_mfa_page(self, call: Call) -> HttpResponse:
        """The second-step form."""
        return self.web.page(
            call.request,
            "doorward/login_mfa.html",
            trust_offered=bool(self.settings.mfa_trust_lifetime),
        )

    @endpoint("POST", "/login/mfa", limit="login_mfa", form="doorward/login_mfa.html")
    async def login_mfa_submit(self, call: Call) -> HttpResponse:
        """``code`` (TOTP or recovery) and ``trust_device`` → a session (and trust cookie)."""
        form = call.request.form is not None or call.request.content_type != "application/json"
        trust = checkbox(call.fields.get("trust_device", False), form=form, field="trust_device")
        user, issued, trust_token = await self.verify_login(
            call.request.cookies.get(self.web.mfa_cookie),
            call.field("code"),
            trust_device=trust,
            ip=call.ip,
            user_agent=call.request.headers.get("user-agent"),
            replacing=call.identity,
        )
        response = await self.login_feature.signed_in(call, user, issued)
        response.cookies.append(self.web.cookie(self.web.mfa_cookie, None))
        if trust_token is not None:
            lifetime = int(self.settings.mfa_trust_lifetime.total_seconds())
            response.cookies.append(self.web.cookie(self.web.trust_cookie, trust_token, lifetime))
        return response


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
