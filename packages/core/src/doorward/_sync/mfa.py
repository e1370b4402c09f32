# Generated from packages/core/src/doorward/_async/mfa.py by scripts/unasync.py. Do not edit: edit the source.
"""The MFA feature: enrol a TOTP app, recovery codes, the required-MFA policy, ``/mfa``.

Active only for users who enrol (or whom ``require_mfa``/``require_mfa_roles`` name).
Secrets are encrypted at rest and recovery codes stored as keyed hashes (MF-01, MF-04);
every factor change needs a fresh session and mails a notice (MF-06). The second login
step and trusted browsers are in the base class, ``mfa_login.MfaSteps``. TOTP and
the QR code need ``doorward[mfa]``. ``passkey`` authenticators have their kind reserved
for the passkeys feature (``passkeys.py``), whose passkeys count as factors here.
"""

from __future__ import annotations

import secrets
from typing import Any

from doorward._sync.mfa_login import MfaSteps, iso, normalized_code
from doorward._sync.protocols import Authenticators, Credentials, Users
from doorward._rules import Identity
from doorward.exceptions import (
    NotFound,
    ReauthRequired,
    ValidationFailed,
)
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.records import Authenticator
from doorward.routing import endpoint
from doorward.web import Call, for_display

__all__ = ["Mfa"]

_NO_STORE = {"Cache-Control": "no-store"}
#: Recovery codes: 12 characters of this alphabet (32 symbols: 60 bits), shown as 3 groups.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_CODE_LENGTH = 12


class Mfa(MfaSteps):
    """``/mfa``: enrol a TOTP app, recovery codes, trusted browsers; ``/login/mfa``."""

    name = "mfa"
    capabilities = (Users, Credentials, Authenticators)
    mails = ("mfa_changed",)
    mail_placeholders = frozenset({"change"})
    events = frozenset(
        {"login_mfa_required", "mfa_enabled", "mfa_disabled", "recovery_codes_regenerated"}
    )
    notices = {  # noqa: RUF012 (read-only class data)
        "mfa_enabled": N_("Two-factor authentication is on."),
        "mfa_disabled": N_("The authenticator app was removed."),
        "trust_revoked": N_("That browser is no longer trusted."),
        "mfa_enrolment_required": N_("This site requires two-factor authentication: set it up."),
    }

    def mfa_required(self, user: Any) -> bool:
        """Whether the site requires a second factor of ``user`` (everyone, or by role)."""
        if self.settings.require_mfa:
            return True
        wanted = self.settings.require_mfa_roles
        if not wanted or not hasattr(self.store, "get_user_roles"):
            return False
        return bool(wanted & self.store.get_user_roles(user))

    def enrolment_required(self, user: Any) -> bool:
        """Required of this user, and no factor yet: the site sends them to /mfa."""
        if not self.mfa_required(user):
            return False
        return self.confirmed_totp(user) is None and not self.passkeys_of(user)

    def status(self, user: Any) -> dict[str, Any]:
        """``GET /mfa``'s body: the factors (never a secret), codes left, trusted browsers."""
        totp = self.confirmed_totp(user)
        codes = self.store.list_authenticators(str(user.id), "recovery")
        browsers = self.ctx.live_credentials(user, "trust")
        passkeys = self.ctx.features.get("passkeys")
        listed = passkeys.listed(user) if passkeys is not None else []
        return {
            "enabled": totp is not None or bool(listed),
            "totp": None
            if totp is None
            else {
                "id": totp.id,
                "created_at": iso(totp.confirmed_at),
                "last_used_at": iso(totp.last_used_at),
            },
            "passkeys": listed,
            "recovery_codes_left": len(codes),
            "trusted_browsers": [
                {
                    "id": c.id,
                    "created_at": iso(c.created_at),
                    "expires_at": iso(c.expires_at),
                    "user_agent": c.user_agent,
                }
                for c in browsers
            ],
        }

    # -- enrolment (MF-01, MF-06) ------------------------------------------------------------

    def _fresh(self, identity: Identity) -> None:
        if identity.via != "session":
            raise ReauthRequired(N_("This needs a browser session."))
        self.login_feature.require_fresh(identity)

    def start_totp(self, identity: Identity) -> tuple[str, str, str]:
        """Begin enrolment: ``(secret, otpauth_uri, qr_svg)``; nothing is active yet."""
        self._fresh(identity)
        user = identity.user
        if self.confirmed_totp(user) is not None:
            raise ValidationFailed(
                {"totp": [N_("An authenticator app is set up; remove it first.")]}
            )
        secret = self.totp.new_secret()
        self.store.delete_authenticators(str(user.id), ["totp"])
        self.store.create_authenticator(
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

    def confirm_totp(self, identity: Identity, code: object) -> list[str]:
        """One valid code activates the app; the first recovery codes, shown once."""
        self._fresh(identity)
        user = identity.user
        found = self.store.list_authenticators(str(user.id), "totp")
        pending = next((a for a in found if a.confirmed_at is None), None)
        refused = ValidationFailed({"code": [N_("That code is not right; try the next one.")]})
        if pending is None:
            raise ValidationFailed({"code": [N_("Start the set-up again.")]})
        secret = self.totp.decrypt(pending.secret)
        text = normalized_code(code)
        now = self.ctx.clock.now()
        step = None
        if secret is not None and text is not None:
            step = self.totp.matching_step(secret, text, now)
        if step is None:
            raise refused
        if not self.store.confirm_authenticator(pending.id, now):
            raise refused
        self.store.accept_totp_step(pending.id, step, now)
        codes = self._new_recovery_codes(user)
        self.ctx.events.emit("mfa_enabled", user_id=str(user.id), kind="totp")
        self._notify(user, N_("An authenticator app was added to your account."))
        return codes

    def disable_totp(self, identity: Identity) -> None:
        """Remove the app and its recovery codes; trusted browsers end too (MF-09)."""
        self._fresh(identity)
        user = identity.user
        if self.confirmed_totp(user) is None:
            raise NotFound
        others = self.passkeys_of(user)
        if not others and self.mfa_required(user):
            raise ValidationFailed({"totp": [N_("This site requires a second factor.")]})
        # recovery codes stay while a passkey is left to be the factor they back up
        self.store.delete_authenticators(
            str(user.id), ["totp"] if others else ["totp", "recovery"]
        )
        self.store.delete_credentials(str(user.id), ["trust"])
        self.ctx.events.emit("mfa_disabled", user_id=str(user.id), kind="totp")
        self._notify(user, N_("The authenticator app was removed from your account."))

    def regenerate_recovery_codes(self, identity: Identity) -> list[str]:
        """A new set of recovery codes, shown once; the old set is dead (MF-04)."""
        self._fresh(identity)
        user = identity.user
        if self.confirmed_totp(user) is None:
            raise ValidationFailed({"totp": [N_("Set up an authenticator app first.")]})
        codes = self._new_recovery_codes(user)
        self.ctx.events.emit("recovery_codes_regenerated", user_id=str(user.id))
        self._notify(user, N_("New recovery codes were made; the old ones no longer work."))
        return codes

    def new_recovery_codes(self, user: Any) -> list[str]:
        """A new set of recovery codes for ``user`` (the old set dies); the plain codes."""
        return self._new_recovery_codes(user)

    def _new_recovery_codes(self, user: Any) -> list[str]:
        self.store.delete_authenticators(str(user.id), ["recovery"])
        now = self.ctx.clock.now()
        codes = []
        for _ in range(self.settings.mfa_recovery_codes):
            raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
            self.store.create_authenticator(
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

    def reset_factors(self, user: Any) -> int:
        """Remove every second factor of ``user`` (support staff, for a lost phone): TOTP,
        recovery codes, passkeys, trusted browsers and pending logins; a notice is mailed.
        Returns how many factors were removed. A site requiring MFA sends the user to
        enrolment at the next login."""
        user_id = str(user.id)
        removed = int(
            self.store.delete_authenticators(user_id, ["totp", "recovery", "passkey"])
        )
        self.store.delete_credentials(user_id, ["trust", "mfa"])
        self.ctx.events.emit("mfa_reset", user_id=user_id, removed=removed)
        self._notify(user, N_("Every second factor was removed by the site's staff."))
        return removed

    def _notify(self, user: Any, change: str) -> None:
        self.ctx.mail(
            "mfa_changed", user.email, link=self.settings.url("/mfa"), values={"change": change}
        )

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/mfa", access="session")
    def mfa_page(self, call: Call) -> HttpResponse:
        """The user's factors, recovery codes left and trusted browsers."""
        body = {"mfa": self.status(call.current.user)}
        if call.as_json:
            return HttpResponse(json=body)
        shown = dict(body["mfa"])
        shown["trusted_browsers"] = [for_display(b) for b in shown["trusted_browsers"]]
        return self.web.page(call.request, "doorward/mfa.html", mfa=shown)

    @endpoint("POST", "/mfa/totp", access="session", form="doorward/mfa.html")
    def start_totp_submit(self, call: Call) -> HttpResponse:
        """Start TOTP enrolment: the secret, its URI and QR code, shown this once."""
        secret, uri, svg = self.start_totp(call.current)
        if call.as_json:
            body = {"secret": secret, "otpauth_uri": uri, "qr_svg": svg}
            return HttpResponse(json=body, headers=dict(_NO_STORE))
        response = self.web.page(
            call.request, "doorward/mfa_totp.html", secret=secret, otpauth_uri=uri, qr_svg=svg
        )
        response.headers.update(_NO_STORE)
        return response

    @endpoint("POST", "/mfa/totp/confirm", access="session", form="doorward/mfa_totp.html")
    def confirm_totp_submit(self, call: Call) -> HttpResponse:
        """A code from the app → active, and the recovery codes, shown once."""
        codes = self.confirm_totp(call.current, call.field("code"))
        return self._codes_response(call, codes)

    @endpoint("DELETE", "/mfa/totp", access="session")
    @endpoint("POST", "/mfa/totp/delete", access="session", form="doorward/mfa.html")
    def disable_totp_submit(self, call: Call) -> HttpResponse:
        """Remove the app and its recovery codes (204; browsers go back to /mfa)."""
        self.disable_totp(call.current)
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/mfa?notice=mfa_disabled")

    @endpoint("POST", "/mfa/recovery-codes", access="session", form="doorward/mfa.html")
    def recovery_codes_submit(self, call: Call) -> HttpResponse:
        """A new set of recovery codes, shown once; the old set is dead."""
        codes = self.regenerate_recovery_codes(call.current)
        return self._codes_response(call, codes)

    def _codes_response(self, call: Call, codes: list[str]) -> HttpResponse:
        if call.as_json:
            return HttpResponse(json={"recovery_codes": codes}, headers=dict(_NO_STORE))
        response = self.web.page(call.request, "doorward/mfa_recovery_codes.html", codes=codes)
        response.headers.update(_NO_STORE)
        return response
