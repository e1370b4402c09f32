"""Passwords: forgot and reset by emailed link, change knowing the current one, set by an admin."""

from __future__ import annotations

from typing import Any

from doorward._async.feature import AsyncFeature
from doorward._async.login import UNLOCKED, AsyncLogin
from doorward._async.protocols import AsyncCredentials, AsyncUsers
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import InvalidToken
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import normalize_email, prepare_password
from doorward.routing import endpoint
from doorward.tokens import new_stamp
from doorward.web import Call

__all__ = ["AsyncPasswords"]

RESET_SENT = N_("If this address has an account, we sent a link to reset the password.")


class AsyncPasswords(AsyncFeature):
    """``/reset`` and ``/change-password``."""

    name = "passwords"
    capabilities = (AsyncUsers, AsyncCredentials)
    mails = ("reset", "password_changed")
    notices = {  # noqa: RUF012 (read-only class data)
        "password_reset": N_("Your password was changed. Please log in with the new one.")
    }

    @property
    def _login(self) -> AsyncLogin:
        return self.ctx.feature(AsyncLogin)

    # -- flows -------------------------------------------------------------------------------

    async def forgot_password(self, email: object, *, ip: str | None = None) -> None:
        """Mail a reset link if the address has an active account; same outcome either way."""
        await self.ctx.limit("forgot_password", ip)
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        found = await self.store.get_user_by_email(key)
        self.ctx.events.emit("password_reset_requested", ip=ip)
        # Equal work either way (LE-07): a token, the mail limiter, rendering, the mailer.
        user = found if found is not None and found.active else None
        token = self.ctx.link_token("reset", user, "security_stamp")
        await self.ctx.mail(
            "reset",
            user.email if user is not None else address,
            link=self.settings.url(f"/reset/{token}"),
            decoy=user is None,
        )

    async def check_reset_token(self, token: object, *, ip: str | None = None) -> Any:
        """The user a reset token is for, without using it (for showing the form)."""
        await self.ctx.limit("token", ip)
        user, _ = await self.ctx.user_for_stamp_token("reset", token, self.settings.reset_max_age)
        return user

    async def reset_password(
        self, token: object, new_password: object, *, ip: str | None = None
    ) -> Any:
        """Set a new password with an emailed token, once (TK-03).

        In one conditional update: the new hash, a new stamp (every session and token
        dies), the failure counter zeroed (RL-04), and the address confirmed (the mail
        proved it). Of concurrent uses exactly one succeeds (CC-02, CC-04).
        """
        ctx = self.ctx
        await ctx.limit("token", ip)
        user, _ = await ctx.user_for_stamp_token("reset", token, self.settings.reset_max_age)
        password_hash = await ctx.new_password_hash(new_password, user.email)
        changes: dict[str, Any] = {"password_hash": password_hash, **UNLOCKED}
        if user.confirmed_at is None:
            changes["confirmed_at"] = ctx.clock.now()
        async with ctx.change_and_mail():
            updated = await self.store.compare_and_set_stamp(
                user, user.security_stamp, {**changes, "security_stamp": new_stamp()}
            )
            if updated is None:
                raise InvalidToken
            await ctx.forget_credentials(updated)
            await ctx.mail("password_changed", updated.email, link=self.settings.url("/reset"))
        ctx.events.emit("password_reset", user=updated, user_id=str(updated.id))
        return updated

    async def change_password(
        self, identity: Identity, current_password: object, new_password: object
    ) -> IssuedSession:
        """Change the password knowing the current one; this device's new session (with the
        updated user as ``issued.user``). An account without a password (passwordless, or
        made by a provider) sets its first one from a fresh session instead (SS-07).

        With ``end_sessions_on_change`` (the default) every other session and token ends
        (SS-05); without it they are moved to the new stamp in one store call.
        """
        ctx = self.ctx
        if identity.user.password_hash is None:
            self._login.require_fresh(identity)
            user = identity.user
        else:
            plain_current = prepare_password(
                current_password, max_length=self.settings.password_max_length
            )
            user = await self._login.check_password(
                identity.user, plain_current, ip=identity.credential.ip
            )
        password_hash = await ctx.new_password_hash(new_password, user.email, field="new_password")
        old_stamp = user.security_stamp
        async with ctx.change_and_mail():
            user = await ctx.rotate_stamp(user, {"password_hash": password_hash})
            user_id = str(user.id)
            if self.settings.end_sessions_on_change:
                await ctx.forget_credentials(user)
            else:
                await self.store.rebind_credentials(
                    user_id, old_stamp, user.security_stamp, except_id=identity.credential.id
                )
                await self.store.delete_credential(identity.credential.id, user_id)
                # trusted browsers and pending logins end on a password change (MF-09)
                await self.store.delete_credentials(user_id, ("trust", "mfa"))
            await ctx.mail("password_changed", user.email, link=self.settings.url("/reset"))
        ctx.events.emit("password_changed", user=user, user_id=user_id)
        return await self._login.start_session(
            user,
            remember=False,
            ip=identity.credential.ip,
            user_agent=identity.credential.user_agent,
            authenticated=True,
        )

    async def set_password(self, user: Any, new_password: object) -> Any:
        """Set a user's password as an administrator (CLI); all their sessions end."""
        password_hash = await self.ctx.new_password_hash(new_password, user.email)
        user = await self.ctx.rotate_stamp(user, {"password_hash": password_hash, **UNLOCKED})
        await self.ctx.forget_credentials(user)
        self.ctx.events.emit("password_changed", user=user, user_id=str(user.id), by="admin")
        return user

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/reset", json=False)
    async def forgot_page(self, call: Call) -> HttpResponse:
        """The form asking for a reset link."""
        return self.web.page(call.request, "doorward/forgot.html")

    @endpoint(
        "POST",
        "/reset",
        limit="forgot_password",
        form="doorward/forgot.html",
        body={"email": str},
        required=("email",),
        status=202,
    )
    async def forgot_submit(self, call: Call) -> HttpResponse:
        """A reset link for an address with an account (neutral 202: LE-03)."""
        await self.forgot_password(call.field("email"), ip=call.ip)
        return self.web.neutral(call, RESET_SENT)

    @endpoint("GET", "/reset/{token}", limit="token")
    async def reset_page(self, call: Call) -> HttpResponse:
        """The new-password form, if the link is still good (nothing changes: CR-02)."""
        await self.check_reset_token(call.params["token"], ip=call.ip)
        if call.as_json:
            return HttpResponse(json={"valid": True})
        return self.web.page(call.request, "doorward/reset.html", token=call.params["token"])

    @endpoint(
        "POST",
        "/reset/{token}",
        limit="token",
        form="doorward/reset.html",
        body={"password": str},
        required=("password",),
    )
    async def reset_submit(self, call: Call) -> HttpResponse:
        """Set the new password once; every session ends."""
        user = await self.reset_password(call.params["token"], call.field("password"), ip=call.ip)
        if call.as_json:
            response = HttpResponse(json=self.web.user_json(user))
        else:
            response = self.web.redirect("/login?notice=password_reset")
        return self.web.signed_out(response)

    @endpoint("GET", "/change-password", access="session", json=False)
    async def change_password_page(self, call: Call) -> HttpResponse:
        """The change-password form (without the current password for an account that has none)."""
        has_password = call.current.user.password_hash is not None
        return self.web.page(
            call.request, "doorward/change_password.html", has_password=has_password
        )

    @endpoint(
        "POST",
        "/change-password",
        access="session",
        form="doorward/change_password.html",
        body={"current_password": str, "new_password": str},
        required=("new_password",),
    )
    async def change_password_submit(self, call: Call) -> HttpResponse:
        """The current and a new password → a new session here, the others end (SS-05)."""
        issued = await self.change_password(
            call.current, call.field("current_password"), call.field("new_password")
        )
        if call.as_json:
            response = HttpResponse(json=self.web.user_json(issued.user))
        else:
            response = self.web.page(
                call.request,
                "doorward/message.html",
                title=N_("Password changed"),
                message=N_("Your password was changed. Your other sessions have ended."),
                signed_in=issued.user.email,
            )
        response.cookies.extend(self.web.session_cookies(issued))
        response.cookies.append(self.web.cookie(self.web.remember_cookie, None))
        return response
