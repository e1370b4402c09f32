# Generated from packages/core/src/doorward/_async/email_change.py by scripts/unasync.py. Do not edit: edit the source.
"""Changing the email address: confirmed at the new address, noticed at the old one."""

from __future__ import annotations

from typing import Any

from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.protocols import Credentials, Users
from doorward._rules import Identity
from doorward.exceptions import EmailTaken, InvalidToken, ValidationFailed
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import normalize_email, prepare_password
from doorward.routing import endpoint
from doorward.tokens import new_stamp
from doorward.web import Call

__all__ = ["EmailChange"]

LINK_SENT = N_("We sent a confirmation link to the new address.")


class EmailChange(Feature):
    """``/change-email`` and its confirmation link."""

    name = "email_change"
    capabilities = (Users, Credentials)
    mails = ("change_email", "email_changed")
    notices = {  # noqa: RUF012 (read-only class data)
        "email_changed": N_("Your email address was changed. Please log in again.")
    }

    # -- flows -------------------------------------------------------------------------------

    def request_email_change(
        self, identity: Identity, password: object, new_email: object
    ) -> None:
        """Mail a confirmation link to the new address; the address changes when it is used.

        Needs the password (re-authentication, SS-07). An address already in use gets the
        same answer and no link (the owner of that address learns nothing either).
        """
        ctx = self.ctx
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        address, key = normalize_email(
            new_email, max_length=self.settings.email_max_length, field="new_email"
        )
        login = ctx.feature(Login)
        user = login.check_password(identity.user, plain, ip=identity.credential.ip)
        if key == user.normalized_email:
            raise ValidationFailed({"new_email": [N_("This is already your email address.")]})
        if self.store.get_user_by_email(key) is not None:
            ctx.events.emit("email_change_requested", user_id=str(user.id), taken=True)
            return
        with ctx.change_and_mail():
            user = self.store.update_user(user, {"pending_email": address})
            token = ctx.tokens.dumps("change_email", str(user.id), user.security_stamp, key)
            link = self.settings.url(f"/change-email/{token}")
            ctx.mail("change_email", address, link=link, strict=True)
        ctx.events.emit("email_change_requested", user_id=str(user.id))

    def confirm_email_change(self, token: object, *, ip: str | None = None) -> Any:
        """Move the account to the address the token was mailed to (TK-04, CC-05).

        The token must match both the stamp and the pending address, so of two parallel
        requests only the address that is pending now can be confirmed. The stamp rotates:
        the user's sessions end (SS-05). The old address gets a notice.
        """
        ctx = self.ctx
        ctx.limit("token", ip)
        user, prints = ctx.user_for_stamp_token(
            "change_email", token, self.settings.change_email_max_age
        )
        pending = user.pending_email
        if pending is None or len(prints) < 1:
            raise InvalidToken
        address, key = normalize_email(pending, max_length=self.settings.email_max_length)
        if not ctx.tokens.matches(prints[0], key):
            raise InvalidToken
        old_address = user.email
        changes = {
            "email": address,
            "normalized_email": key,
            "pending_email": None,
            "confirmed_at": ctx.clock.now(),
            "security_stamp": new_stamp(),
        }
        with ctx.change_and_mail():
            try:
                updated = self.store.compare_and_set_stamp(user, user.security_stamp, changes)
            except EmailTaken:
                raise InvalidToken(N_("This address is no longer available.")) from None
            if updated is None:
                raise InvalidToken
            ctx.forget_credentials(updated)
            ctx.mail("email_changed", old_address, link=self.settings.url("/reset"))
        ctx.events.emit("email_changed", user=updated, user_id=str(updated.id))
        return updated

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/change-email", access="session", json=False)
    def change_email_page(self, call: Call) -> HttpResponse:
        """The change-email form."""
        return self.web.page(call.request, "doorward/change_email.html")

    @endpoint(
        "POST",
        "/change-email",
        access="session",
        form="doorward/change_email.html",
        body={"password": str, "new_email": str},
        required=("password", "new_email"),
        status=202,
    )
    def change_email_submit(self, call: Call) -> HttpResponse:
        """The password and a new address → a link mailed there (202)."""
        self.request_email_change(
            call.current, call.field("password"), call.field("new_email")
        )
        return self.web.neutral(call, LINK_SENT, title=N_("Check the new address's inbox"))

    @endpoint("GET", "/change-email/{token}")
    def change_email_token_page(self, call: Call) -> HttpResponse:
        """The page with the Confirm button (GET changes nothing: CR-02)."""
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        return self.web.page(
            call.request, "doorward/change_email_token.html", token=call.params["token"]
        )

    @endpoint(
        "POST", "/change-email/{token}", limit="token", form="doorward/change_email_token.html"
    )
    def change_email_confirm(self, call: Call) -> HttpResponse:
        """Move the account to the new address; every session ends."""
        user = self.confirm_email_change(call.params["token"], ip=call.ip)
        if call.as_json:
            response = HttpResponse(json=self.web.user_json(user))
        else:
            response = self.web.redirect("/login?notice=email_changed")
        return self.web.signed_out(response)
