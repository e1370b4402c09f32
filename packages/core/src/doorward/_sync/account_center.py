# Generated from packages/core/src/doorward/_async/account_center.py by scripts/unasync.py. Do not edit: edit the source.
"""The account center (``GET /account``) and deleting one's own account (``DELETE /me``).

The page gathers what the other features keep about the signed-in user: the profile,
the email and password, sessions and app clients, API tokens, second factors, linked
providers; each part only when its feature is on. Deleting the account needs a fresh
session or the password (SS-07); the store deletes the user with everything that
authenticates them, and the owner is mailed a notice.
"""

from __future__ import annotations

from typing import Any

from doorward import _rules
from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.protocols import Credentials, Users
from doorward._rules import Identity
from doorward.capabilities import Capability
from doorward.exceptions import ValidationFailed
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import prepare_password
from doorward.routing import endpoint
from doorward.web import Call, checkbox, for_display

__all__ = ["AccountCenter"]


class AccountCenter(Feature):
    """``GET /account``, ``DELETE /me`` (``POST /me/delete`` for forms)."""

    name = "account_center"
    capabilities: tuple[Capability, ...] = (Users, Credentials)
    mails = ("account_deleted",)
    events = frozenset({"account_deleted"})
    notices = {  # noqa: RUF012 (read-only class data)
        "account_deleted": N_("Your account is deleted. Thank you for having been with us."),
    }

    @property
    def login_feature(self) -> Login:
        """The login feature (freshness, passwords, the user's public fields)."""
        return self.ctx.feature(Login)

    # -- flows -------------------------------------------------------------------------------

    def overview(self, identity: Identity) -> dict[str, Any]:
        """Everything the account center shows, by part; a part is absent when its feature is."""
        user = identity.user
        features = self.ctx.features
        body: dict[str, Any] = self.login_feature.public_user(user)
        body["has_password"] = user.password_hash is not None
        body["fresh"] = _rules.is_fresh(identity.credential, self.ctx.clock.now(), self.settings)
        body["editable_fields"] = [f.name for f in self.settings.signup_fields if f.editable]
        if "sessions" in features:
            sessions = features["sessions"]
            body["sessions"] = [
                _rules.public_credential(c, current=identity.credential.id)
                for c in sessions.list_sessions(user)
            ]
            body["app_clients"] = sessions.list_app_clients(user)
        if "api_tokens" in features:
            tokens = features["api_tokens"].list_api_tokens(user)
            body["tokens"] = [_rules.public_credential(t) for t in tokens]
        if "mfa" in features:
            body["mfa"] = features["mfa"].status(user)
        if "oauth" in features:
            body["oauth_accounts"] = [
                {"id": i.id, "provider": i.provider, "email": i.email}
                for i in features["oauth"].identities(user)
            ]
        return body

    def delete_account(self, identity: Identity, password: object = None) -> None:
        """Delete the signed-in user's account, proven by a fresh session or the password.

        A wrong password counts towards the lockout like a login (RL-01); the notice mail
        goes out only once the store has deleted the account.
        """
        user = identity.user
        if password is None or password == "":
            self.login_feature.require_fresh(identity)
        else:
            plain = prepare_password(password, max_length=self.settings.password_max_length)
            self.login_feature.check_password(user, plain, ip=identity.credential.ip)
        with self.ctx.change_and_mail():
            self.ctx.feature_named("accounts").delete_user(user)
            self.ctx.mail("account_deleted", user.email, link=self.settings.url("/register"))
        self.ctx.events.emit("account_deleted", user_id=str(user.id))

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/account", access="session")
    def account_page(self, call: Call) -> HttpResponse:
        """The account center: every part of the account on one page (JSON: the same data)."""
        body = self.overview(call.current)
        if call.as_json:
            return HttpResponse(json=body, headers={"Cache-Control": "no-store"})
        shown = {
            **body,
            "sessions": [for_display(s) for s in body.get("sessions", [])],
            "app_clients": [for_display(a) for a in body.get("app_clients", [])],
            "tokens": [for_display(t) for t in body.get("tokens", [])],
        }
        return self.web.page(call.request, "doorward/account.html", account=shown)

    @endpoint("DELETE", "/me", access="session", body={"password": str}, status=204)
    def delete_me(self, call: Call) -> HttpResponse:
        """Delete my account: 204, every cookie cleared (fresh session, or ``password``)."""
        self.delete_account(call.current, call.fields.get("password"))
        response = HttpResponse(status=204)
        self.web.signed_out(response)
        return response

    @endpoint(
        "POST",
        "/me/delete",
        access="session",
        form="doorward/account_delete.html",
        body={"confirm": bool, "password": str},
        required=("confirm",),
        status=204,
    )
    def delete_me_submit(self, call: Call) -> HttpResponse:
        """The form of the account page: ``confirm`` ticked (and the password if not fresh)."""
        form = call.request.form is not None or call.request.content_type != "application/json"
        if not checkbox(call.fields.get("confirm", False), form=form, field="confirm"):
            raise ValidationFailed({"confirm": [N_("Tick the box to delete your account.")]})
        self.delete_account(call.current, call.fields.get("password"))
        if call.as_json:
            response = HttpResponse(status=204)
        else:
            response = self.web.redirect("/login?notice=account_deleted")
        self.web.signed_out(response)
        return self.web.with_csrf(call.request, response, rotate=True)

    @endpoint("GET", "/me/delete", access="session", json=False)
    def delete_me_page(self, call: Call) -> HttpResponse:
        """The confirmation page of "delete my account"."""
        identity = call.current
        fresh = _rules.is_fresh(identity.credential, self.ctx.clock.now(), self.settings)
        return self.web.page(
            call.request,
            "doorward/account_delete.html",
            fresh=fresh,
            has_password=identity.user.password_hash is not None,
        )
