"""Self-registration and email confirmation.

Switch it off (``Settings(disabled_features=["registration"])``) for invite-only sites:
its routes are 404 and accounts are made by the CLI or ``auth.create_user``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from doorward._async.context import AsyncContext
from doorward._async.feature import AsyncFeature
from doorward._async.protocols import AsyncUsernames, AsyncUsers
from doorward.capabilities import Capability
from doorward.exceptions import EmailTaken, InvalidToken, ValidationFailed
from doorward.fields import clean_fields
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import check_new_password, normalize_email, normalize_username
from doorward.records import NewUser
from doorward.routing import Route, endpoint
from doorward.tokens import new_stamp
from doorward.web import Call

__all__ = ["AsyncRegistration"]

REGISTERED = N_("Thanks! If this address can be used, we sent a confirmation link to it.")
RESENT = N_("If this address has an unconfirmed account, we sent a new link.")


class AsyncRegistration(AsyncFeature):
    """``POST /register`` and the confirmation links."""

    name = "registration"
    capabilities: tuple[Capability, ...] = (AsyncUsers,)

    def __init__(self, ctx: AsyncContext) -> None:
        super().__init__(ctx)
        if ctx.settings.username_field is not None:
            self.capabilities = (AsyncUsers, AsyncUsernames)
        if ctx.settings.passwordless_accounts:
            ctx.web.page_context["passwordless_accounts"] = True

    mails = ("confirm", "existing_account")
    notices = {"confirmed": N_("Your email address is confirmed. You can log in now.")}  # noqa: RUF012 (read-only class data)

    # -- flows -------------------------------------------------------------------------------

    async def register(
        self,
        email: object,
        password: object,
        *,
        ip: str | None = None,
        extra: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Any | None:
        """Create an account and mail a confirmation link.

        With ``Settings.passwordless_accounts`` the password may be left out: the account
        then has none (it signs in by emailed code, link, passkey or provider).

        Returns the new user, or ``None`` when the address already had an account: its
        owner is mailed a notice instead, and the caller must answer exactly as for a new
        account (LE-04). ``fields`` is what the person submitted: only the declared
        ``Settings.signup_fields`` are read from it, checked, and stored. ``extra`` sets
        application fields the app trusts; never pass request data there.
        """
        ctx = self.ctx
        await ctx.limit("register", ip)
        address, key, plain, profile = self._checked(email, password, fields or {})
        username_field = self.settings.username_field
        if username_field is not None:
            await self._refuse_taken_username(username_field, profile[username_field])
        password_hash = await ctx.hasher.hash(plain) if plain else None
        new = NewUser(
            email=address,
            normalized_email=key,
            password_hash=password_hash,
            security_stamp=new_stamp(),
            created_at=ctx.clock.now(),
            extra={**profile, **(extra or {})},
        )
        async with ctx.change_and_mail():  # the account and its mail, or neither (DI-02)
            try:
                user = await self.store.create_user(new)
            except EmailTaken:
                existing = await self.store.get_user_by_email(key)
                ctx.events.emit("registration_attempt_for_existing_email", ip=ip)
                if existing is not None:
                    await ctx.mail(
                        "existing_account", existing.email, link=self.settings.url("/login")
                    )
                return None
            await self._send_confirmation(user)
        ctx.events.emit("user_registered", user=user, user_id=str(user.id), ip=ip)
        return user

    def _checked(
        self, email: object, password: object, fields: Mapping[str, Any]
    ) -> tuple[str, str, str, dict[str, Any]]:
        """Email, password and the declared fields, checked together: every error at once."""
        errors: dict[str, Sequence[str]] = {}
        refused: list[ValidationFailed] = []
        address = key = plain = ""
        profile: dict[str, Any] = {}
        try:
            address, key = normalize_email(email, max_length=self.settings.email_max_length)
        except ValidationFailed as exc:
            refused.append(exc)
        try:
            plain = self._new_password(password, address)
        except ValidationFailed as exc:
            refused.append(exc)
        try:
            profile = clean_fields(self.settings.signup_fields, fields)
        except ValidationFailed as exc:
            refused.append(exc)
        if self.settings.username_field is not None:
            try:
                username = normalize_username(fields.get("username"))
            except ValidationFailed as exc:
                refused.append(exc)
            else:
                profile[self.settings.username_field] = username
        if len(refused) == 1:
            raise refused[0]
        for problem in refused:
            errors.update(problem.fields)
        if errors:
            raise ValidationFailed(errors)
        return address, key, plain, profile

    def _new_password(self, password: object, address: str) -> str:
        """The checked new password; ``""`` when a passwordless account leaves it out."""
        if password in (None, "") and self.settings.passwordless_accounts:
            return ""
        return check_new_password(
            password,
            self.settings,
            context=(address,) if address else (),
            breach_checker=self.ctx.breach_checker,
        )

    async def _refuse_taken_username(self, field: str, username: str) -> None:
        """A username somebody has is refused (usernames are public, unlike emails)."""
        if await self.store.get_user_by_username(field, username) is not None:
            raise ValidationFailed({"username": [N_("This username is taken.")]})

    async def send_confirmation(self, email: object, *, ip: str | None = None) -> None:
        """Mail a new confirmation link if the address has an unconfirmed account (neutral)."""
        await self.ctx.limit("send_confirmation", ip)
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        found = await self.store.get_user_by_email(key)
        if found is not None and found.active and found.confirmed_at is None:
            await self._send_confirmation(found)
            return
        # Equal work for an unknown or confirmed address (LE-07): a decoy mail.
        token = self.ctx.link_token("confirm", None, "normalized_email")
        await self.ctx.mail(
            "confirm", address, link=self.settings.url(f"/confirm/{token}"), decoy=True
        )

    async def confirm_email(self, token: object, *, ip: str | None = None) -> Any:
        """Mark the address confirmed. The token is bound to the address it was sent to (TK-04).

        A second use fails: the token is only valid while the account is unconfirmed.
        """
        ctx = self.ctx
        await ctx.limit("token", ip)
        user = await self._unconfirmed_user(token)
        user = await self.store.update_user(user, {"confirmed_at": ctx.clock.now()})
        ctx.events.emit("email_confirmed", user=user, user_id=str(user.id))
        return user

    async def check_confirmation_token(self, token: object, *, ip: str | None = None) -> Any:
        """The user a confirmation token is for, without using it (for showing the button);
        ``InvalidToken`` once it is used, expired or for another address."""
        await self.ctx.limit("token", ip)
        return await self._unconfirmed_user(token)

    async def _unconfirmed_user(self, token: object) -> Any:
        ctx = self.ctx
        payload = ctx.load_token("confirm", token, self.settings.confirm_max_age)
        if len(payload) != 2:
            raise InvalidToken
        user_id, email_print = payload
        user = await self.store.get_user(user_id)
        if (
            user is None
            or user.confirmed_at is not None
            or not ctx.tokens.matches(email_print, user.normalized_email)
        ):
            raise InvalidToken
        return user

    async def _send_confirmation(self, user: Any) -> None:
        token = self.ctx.link_token("confirm", user, "normalized_email")
        await self.ctx.mail("confirm", user.email, link=self.settings.url(f"/confirm/{token}"))
        self.ctx.events.emit("confirmation_sent", user_id=str(user.id))

    # -- endpoints -------------------------------------------------------------------------

    def body_of(self, route: Route) -> Mapping[str, type]:
        """``POST /register`` also takes the declared sign-up fields (and the username)."""
        if route.name != "register_submit":
            return route.endpoint.body
        extra: dict[str, type] = {field.name: field.kind for field in self.settings.signup_fields}
        if self.settings.username_field is not None:
            extra["username"] = str
        return {**route.endpoint.body, **extra}

    @endpoint("GET", "/register", json=False)
    async def register_page(self, call: Call) -> HttpResponse:
        """The registration form."""
        return self.web.page(call.request, "doorward/register.html")

    @endpoint(
        "POST",
        "/register",
        limit="register",
        form="doorward/register.html",
        body={"email": str, "password": str},
        required=("email",),
        status=202,
    )
    async def register_submit(self, call: Call) -> HttpResponse:
        """Email and password → 202, the same answer whether or not the address is taken."""
        await self.register(
            call.field("email"), call.field("password"), ip=call.ip, fields=call.fields
        )
        return self.web.neutral(call, REGISTERED)

    @endpoint("GET", "/confirm", json=False)
    async def confirm_page(self, call: Call) -> HttpResponse:
        """The form asking for a new confirmation link."""
        return self.web.page(call.request, "doorward/confirm.html")

    @endpoint(
        "POST",
        "/confirm",
        limit="send_confirmation",
        form="doorward/confirm.html",
        body={"email": str},
        required=("email",),
        status=202,
    )
    async def send_confirmation_submit(self, call: Call) -> HttpResponse:
        """A new confirmation link for an unconfirmed address (neutral 202)."""
        await self.send_confirmation(call.field("email"), ip=call.ip)
        return self.web.neutral(call, RESENT)

    @endpoint("GET", "/confirm/{token}", limit="token")
    async def confirm_token_page(self, call: Call) -> HttpResponse:
        """The page with the Confirm button while the link is still good; a used or dead
        link gets the error page offering a new one (GET changes nothing: CR-02)."""
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        await self.check_confirmation_token(call.params["token"], ip=call.ip)
        return self.web.page(
            call.request, "doorward/confirm_token.html", token=call.params["token"]
        )

    @endpoint("POST", "/confirm/{token}", limit="token", form="doorward/confirm_token.html")
    async def confirm_submit(self, call: Call) -> HttpResponse:
        """Confirm the address the link was mailed to."""
        user = await self.confirm_email(call.params["token"], ip=call.ip)
        if call.as_json:
            return HttpResponse(json=self.web.user_json(user))
        return self.web.redirect("/login?notice=confirmed")
