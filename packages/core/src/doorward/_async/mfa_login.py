"""The second login step and trusted browsers: the base of the MFA feature (``mfa.py``).

After the right password, ``second_factor`` asks enrolled users for a code (unless the
browser is trusted); ``verify_login`` checks a TOTP code (its time step accepted once by
the store: MF-02) or a recovery code (used once: MF-04), counts failures on the lockout
counter (MF-03) and completes the pending login (MF-05); ``trust_device`` stores a
hashed, stamp-bound ``trust`` credential (MF-09). TOTP needs ``doorward[mfa]``
(``doorward._mfa_crypto``), imported when first used.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from doorward import _rules
from doorward._async.feature import AsyncFeature
from doorward._async.login import PREFETCHED_FACTORS, AsyncLogin
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import (
    ConfigurationError,
    InvalidCredentials,
    NotFound,
)
from doorward.http import HttpResponse
from doorward.records import Authenticator, Credential
from doorward.routing import endpoint
from doorward.web import Call, checkbox

__all__ = ["AsyncMfaSteps"]


def _mfa_crypto() -> Any:
    """``doorward._mfa_crypto.TotpCodes``, or a clear error naming the extra to install."""
    try:
        from doorward._mfa_crypto import TotpCodes  # noqa: PLC0415 (optional extra)
    except ImportError as exc:
        raise ConfigurationError(
            "TOTP needs the mfa extra: pip install 'doorward[mfa]' (pyotp, segno, cryptography)"
        ) from exc
    return TotpCodes


def normalized_code(code: object) -> str | None:
    """A submitted code without spaces and dashes, lower case; ``None`` if it is no code."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = "".join(code.split()).replace("-", "").lower()
    return text or None


class AsyncMfaSteps(AsyncFeature):
    """Reading and checking second factors at login; ``AsyncMfa`` adds enrolment."""

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

    async def passkeys_of(self, user: Any) -> list[Authenticator]:
        """The user's passkeys when the passkeys feature is on, else none."""
        passkeys = self.ctx.features.get("passkeys")
        if passkeys is None:
            return []
        found: list[Authenticator] = await passkeys.passkeys_of(user)
        return found

    async def second_factor(self, user: Any, *, trust_token: str | None = None) -> list[str]:
        """``["totp", "recovery"]`` for an enrolled user (``"passkey"`` too, or instead,
        for one with passkeys), unless this browser is trusted."""
        prefetched = PREFETCHED_FACTORS.get()
        if prefetched is not None and prefetched[0] == str(user.id):
            found = prefetched[1]
        else:
            found = await self.store.list_authenticators(str(user.id))
        totp = any(a.kind == "totp" and a.confirmed_at is not None for a in found)
        passkey = "passkeys" in self.ctx.features and any(a.kind == "passkey" for a in found)
        if not (totp or passkey):
            return []
        if trust_token is not None and await self._trusted(user, trust_token):
            return []
        methods = ["totp"] if totp else []
        if passkey:
            methods.append("passkey")
        if totp or any(a.kind == "recovery" for a in found):
            methods.append("recovery")
        return methods

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

    @staticmethod
    def _recovery_hash(key: bytes, code: str) -> str:
        return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()

    # -- the second login step (MF-02, MF-03, MF-05) -----------------------------------------

    async def check_code(self, user: Any, code: object) -> bool:
        """Whether ``code`` is a current TOTP code (accepted once) or an unused recovery code."""
        text = normalized_code(code)
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

    async def _second_factor_ok(
        self, user: Any, pending_id: str, code: object, credential: object, challenge: object
    ) -> bool:
        passkeys = self.ctx.features.get("passkeys")
        if credential is not None and code is None and passkeys is not None:
            ok: bool = await passkeys.check_second_step(user, pending_id, credential, challenge)
            return ok
        return await self.check_code(user, code)

    async def check_second_step(
        self,
        pending_token: object,
        code: object,
        *,
        ip: str | None = None,
        credential: object = None,
        passkey_challenge: str | None = None,
    ) -> tuple[Credential, Any]:
        """The pending login and its user when the second factor is right for it.

        ``code`` is a TOTP or recovery code; or ``credential`` a passkey assertion made for
        the challenge in ``passkey_challenge`` (the cookie of ``/login/mfa/passkey-options``).

        Every refusal is ``InvalidCredentials``: a wrong code, a used one, an expired or
        unknown pending login look the same (MF-03). Wrong codes count on the lockout
        counter, so the second factor locks like the password does. The caller completes
        the login (``AsyncLogin.complete_login``, or app clients' tokens).
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
        if wait is not None or not await self._second_factor_ok(
            user, pending.id, code, credential, passkey_challenge
        ):
            count = await self.store.increment_failed_logins(user, now)
            reason = "locked" if wait is not None else "second_factor"
            ctx.events.emit("login_failed", user_id=str(user.id), reason=reason, ip=ip)
            if wait is None and count == self.settings.lockout_threshold:
                ctx.events.emit("account_locked", user_id=str(user.id), ip=ip)
                await ctx.mail("account_locked", user.email, link=self.settings.url("/reset"))
            raise InvalidCredentials
        return pending, user

    async def verify_login(
        self,
        pending_token: object,
        code: object,
        *,
        trust_device: bool = False,
        ip: str | None = None,
        user_agent: str | None = None,
        replacing: Identity | None = None,
        credential: object = None,
        passkey_challenge: str | None = None,
    ) -> tuple[Any, IssuedSession, str | None]:
        """The second factor of a pending login → ``(user, issued, trust_token or None)``.

        Arguments and refusals as in ``check_second_step``.
        """
        ctx = self.ctx
        pending, user = await self.check_second_step(
            pending_token, code, ip=ip, credential=credential, passkey_challenge=passkey_challenge
        )
        now = ctx.clock.now()
        user, issued = await self.login_feature.complete_login(
            pending, user, ip=ip, user_agent=user_agent, replacing=replacing
        )
        trust = None
        if trust_device and self.settings.mfa_trust_lifetime:
            trust, trusted = ctx.new_credential(
                user,
                "trust",
                now,
                expires_at=now + self.settings.mfa_trust_lifetime,
                ip=ip,
                user_agent=(user_agent or "")[:256] or None,
            )
            await self.store.create_credential(trusted)
        return user, issued, trust

    async def revoke_trust(self, user: Any, credential_id: str) -> None:
        """Stop trusting one browser; ``NotFound`` if it is not the user's."""
        trusted = await self.store.list_credentials(str(user.id), "trust")
        if not any(c.id == credential_id for c in trusted):
            raise NotFound
        await self.store.delete_credential(credential_id, str(user.id))

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("DELETE", "/mfa/trusted/{trust_id}", access="session")
    @endpoint("POST", "/mfa/trusted/{trust_id}/revoke", access="session")
    async def revoke_trust_submit(self, call: Call) -> HttpResponse:
        """Stop trusting one browser (204; browsers go back to /mfa)."""
        await self.revoke_trust(call.current.user, call.params["trust_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/mfa?notice=trust_revoked")

    @endpoint("GET", "/login/mfa", json=False)
    async def login_mfa_page(self, call: Call) -> HttpResponse:
        """The second-step form."""
        return self.web.page(
            call.request,
            "doorward/login_mfa.html",
            trust_offered=bool(self.settings.mfa_trust_lifetime),
            passkey_offered="passkeys" in self.ctx.features,
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
            credential=call.field("credential"),
            passkey_challenge=call.request.cookies.get(
                self.settings.cookie_name(self.settings.passkey_cookie)
            ),
        )
        response = await self.login_feature.signed_in(call, user, issued)
        response.cookies.append(self.web.cookie(self.web.mfa_cookie, None))
        if trust_token is not None:
            lifetime = int(self.settings.mfa_trust_lifetime.total_seconds())
            response.cookies.append(self.web.cookie(self.web.trust_cookie, trust_token, lifetime))
        return response


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
