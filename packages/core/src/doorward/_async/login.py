"""Login: passwords checked under the lockout rules, sessions, remember-me, tracking,
logout, freshness (re-authentication) and ``GET /me``.

Every other feature builds on this one: it is always on.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any
from urllib.parse import urlencode

import attrs

from doorward import _rules
from doorward._async.context import AsyncContext
from doorward._async.login_sessions import AsyncLoginSessions
from doorward._async.protocols import AsyncCredentials, AsyncUsernames, AsyncUsers
from doorward._rules import Identity, IssuedSession
from doorward.capabilities import Capability
from doorward.exceptions import (
    AccountLocked,
    InvalidCredentials,
    InvalidToken,
    MfaRequired,
    ReauthRequired,
)
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import normalize_email, normalize_username, prepare_password
from doorward.records import Authenticator, Credential
from doorward.routing import endpoint
from doorward.web import Call, checkbox

__all__ = ["AsyncLogin"]

UNLOCKED = {"failed_logins": 0, "last_failed_login_at": None}
#: ``(user id, authenticators)`` that the store returned with the user whose login is being
#: checked (one statement, ``get_user_by_email_with_authenticators``); the second-factor
#: check of that user reads them instead of asking the store again
PREFETCHED_FACTORS: ContextVar[tuple[str, list[Authenticator]] | None] = ContextVar(
    "doorward_prefetched_factors", default=None
)


class AsyncLogin(AsyncLoginSessions):
    """Email and password in, a session out; and who is making each request."""

    name = "login"
    capabilities: tuple[Capability, ...] = (AsyncUsers, AsyncCredentials)

    def __init__(self, ctx: AsyncContext) -> None:
        super().__init__(ctx)
        if ctx.settings.username_field is not None:
            self.capabilities = (AsyncUsers, AsyncCredentials, AsyncUsernames)

    mails = ("account_locked",)
    notices = {  # noqa: RUF012 (read-only class data)
        "logged_out": N_("You are logged out."),
        "unlocked": N_("Your account is unlocked. You can log in now."),
    }

    # -- flows -------------------------------------------------------------------------------

    async def login(
        self,
        email: object,
        password: object,
        *,
        remember: bool = False,
        ip: str | None = None,
        user_agent: str | None = None,
        replacing: Identity | None = None,
        trust_token: str | None = None,
    ) -> tuple[Any, IssuedSession]:
        """Check the credentials and start a session: ``(user, issued)``.

        Every refusal is ``InvalidCredentials`` (LE-01) and costs exactly one password
        hash (LE-02); every refused attempt on an existing account counts towards the
        lockout, including those refused while locked, whose password is not checked.
        ``replacing`` is the caller's current session, ended on success (LE-05).

        When a feature asks for a second factor (``AsyncFeature.second_factor``; the
        browser's ``trust_token`` may spare it) no session starts: ``MfaRequired`` carries
        the methods and a pending login that ``complete_login`` finishes (MF-05).
        """
        user, methods = await self.password_step(email, password, ip=ip, trust_token=trust_token)
        if methods:
            raise await self.pending(user, methods, remember=remember, ip=ip, agent=user_agent)
        return await self._finish(
            user, remember=remember, ip=ip, user_agent=user_agent, replacing=replacing
        )

    async def password_step(
        self, email: object, password: object, *, ip: str | None, trust_token: str | None = None
    ) -> tuple[Any, list[str]]:
        """``password_user`` and the second-factor methods asked of that user
        (``factors_asked``), with the factors the store's lookup brought along, if it did.

        The password step of ``login``, shared with app clients.
        """
        user, factors = await self._password_user(email, password, ip=ip)
        token = PREFETCHED_FACTORS.set((str(user.id), factors) if factors is not None else None)
        try:
            methods = await self.factors_asked(user, trust_token=trust_token)
        finally:
            PREFETCHED_FACTORS.reset(token)
        return user, methods

    async def password_user(self, email: object, password: object, *, ip: str | None) -> Any:
        """The user these credentials prove, under every login rule, or ``InvalidCredentials``.

        ``password_step`` without the second-factor check.
        """
        user, _ = await self._password_user(email, password, ip=ip)
        return user

    async def _password_user(
        self, email: object, password: object, *, ip: str | None
    ) -> tuple[Any, list[Authenticator] | None]:
        """``password_user`` and the user's authenticators when the store's lookup brought
        them along (``None``: not fetched)."""
        ctx = self.ctx
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        by_username, key = self._identifier(email)
        await ctx.limit("login", ip)
        user, factors = await self._find(by_username, key)
        if user is None:
            await ctx.hasher.verify(None, plain)
            ctx.events.emit("login_failed", reason="unknown_user", ip=ip)
            raise InvalidCredentials
        user = await self.check_password(user, plain, ip=ip)
        if not user.active or (self.settings.confirm_required and user.confirmed_at is None):
            reason = "inactive" if not user.active else "unconfirmed"
            ctx.events.emit("login_failed", user_id=str(user.id), reason=reason, ip=ip)
            raise InvalidCredentials
        if user.password_hash is not None and ctx.hasher.needs_rehash(user.password_hash):
            rehashed = await ctx.hasher.hash(plain)
            user = await self.store.update_user(user, {"password_hash": rehashed})
            ctx.events.emit("password_rehashed", user_id=str(user.id))
        return user, factors

    async def _finish(
        self,
        user: Any,
        *,
        remember: bool,
        ip: str | None,
        user_agent: str | None,
        replacing: Identity | None,
    ) -> tuple[Any, IssuedSession]:
        ctx = self.ctx
        now = ctx.clock.now()
        issued, credentials = self.new_session(
            user, now, remember=remember, ip=ip, user_agent=user_agent, authenticated=True
        )
        combined = getattr(self.store, "record_login_with_credentials", None)
        if combined is not None:  # one transaction for the login's writes
            user = await combined(user, now, ip, credentials)
        else:
            user = await self.store.record_login(user, now, ip)
            for credential in credentials:
                await self.store.create_credential(credential)
        issued = attrs.evolve(issued, user=user)
        if replacing is not None and replacing.via == "session":
            await self.logout(replacing)
        ctx.events.emit("login_succeeded", user=user, user_id=str(user.id), ip=ip)
        return user, issued

    def _identifier(self, identifier: object) -> tuple[bool, str]:
        """``(is a username, lookup key)`` of what was typed in the email field: a username
        when a username field is configured and it has no ``@`` (LE-06: normalised)."""
        named = self.settings.username_field is not None
        if named and isinstance(identifier, str) and "@" not in identifier:
            return True, normalize_username(identifier, field="email")
        _, key = normalize_email(identifier, max_length=self.settings.email_max_length)
        return False, key

    async def _find(self, by_username: bool, key: str) -> tuple[Any, list[Authenticator] | None]:
        """The user, and their authenticators when the store can bring them in the same
        statement (``None`` when it cannot)."""
        if by_username:
            field = self.settings.username_field
            return await self.store.get_user_by_username(field, key), None
        with_factors = getattr(self.store, "get_user_by_email_with_authenticators", None)
        if with_factors is None:
            return await self.store.get_user_by_email(key), None
        found = await with_factors(key)
        return found if found is not None else (None, None)

    # -- the second step (MF-05) -----------------------------------------------------------

    async def factors_asked(self, user: Any, *, trust_token: str | None = None) -> list[str]:
        """The second-factor methods the enabled features ask of ``user`` (none: no step)."""
        methods: list[str] = []
        for feature in self.ctx.features.values():
            methods.extend(await feature.second_factor(user, trust_token=trust_token))
        return methods

    async def enrolment_required(self, user: Any) -> bool:
        """Whether a feature requires ``user`` to enrol a factor first (any of them)."""
        for feature in self.ctx.features.values():
            if feature is not self and await feature.enrolment_required(user):
                return True
        return False

    async def pending(
        self, user: Any, methods: list[str], *, remember: bool, ip: str | None, agent: str | None
    ) -> MfaRequired:
        """Store a pending login (kind ``mfa``, stamp-bound, short-lived); its refusal."""
        now = self.ctx.clock.now()
        max_age = self.settings.mfa_pending_max_age
        token, credential = self.ctx.new_credential(
            user,
            "mfa",
            now,
            expires_at=now + max_age,
            name="remember" if remember else None,
            ip=ip,
            user_agent=(agent or "")[:256] or None,
        )
        await self.store.create_credential(credential)
        self.ctx.events.emit("login_mfa_required", user_id=str(user.id), ip=ip)
        return MfaRequired(methods, token, int(max_age.total_seconds()))

    async def pending_login(self, token: object) -> tuple[Credential, Any] | None:
        """The live pending login of this token and its user, or ``None``."""
        secret_hash = self.ctx.secrets.secret_hash("mfa", token)
        found = await self.store.get_credential("mfa", secret_hash) if secret_hash else None
        if found is None:
            return None
        credential, user = found
        if not _rules.credential_alive(credential, user, self.ctx.clock.now(), self.settings):
            return None
        return credential, user

    async def complete_login(
        self,
        pending: Credential,
        user: Any,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        replacing: Identity | None = None,
    ) -> tuple[Any, IssuedSession]:
        """End the pending login (once: a concurrent second call is refused) and start the
        session the password step asked for; the caller checked the second factor."""
        if not await self.store.delete_credential(pending.id, str(user.id)):
            raise InvalidCredentials
        return await self._finish(
            user,
            remember=pending.name == "remember",
            ip=ip,
            user_agent=user_agent,
            replacing=replacing,
        )

    async def check_password(self, user: Any, plain: str, *, ip: str | None) -> Any:
        """Verify the password of a known user under the lockout rules; return the user.

        An attempt refused by a running lock or delay is counted without moving the time
        the lock counts from, so guesses never extend it (RL-07); a failure checked after
        a lock ended starts a fresh count.
        """
        ctx = self.ctx
        settings = self.settings
        now = ctx.clock.now()
        wait = _rules.lockout_wait(user.failed_logins, user.last_failed_login_at, now, settings)
        if wait is not None:
            await ctx.hasher.verify(None, plain)
            count = await self.store.increment_failed_logins(user, now, keep_time=True)
            ctx.events.emit("login_failed", user_id=str(user.id), reason="locked", ip=ip)
            if count == settings.lockout_threshold:
                await self._locked(user, ip)
            if settings.neutral_login_errors:
                raise InvalidCredentials
            raise AccountLocked(retry_after=wait.total_seconds())
        if await ctx.hasher.verify(user.password_hash, plain):
            return user
        cutoff = _rules.lock_restart_cutoff(user.failed_logins, now, settings)
        count = await self.store.increment_failed_logins(user, now, restart_cutoff=cutoff)
        ctx.events.emit("login_failed", user_id=str(user.id), reason="password", ip=ip)
        if count == settings.lockout_threshold:
            await self._locked(user, ip)
        raise InvalidCredentials

    async def _locked(self, user: Any, ip: str | None) -> None:
        """Tell the owner once per lock, with a reset link and a single-use unlock link.

        Not one transaction with the failure that locked (``change_and_mail``): a mail that
        cannot be stored must not undo the count, or a broken outbox would never lock.
        """
        self.ctx.events.emit("account_locked", user_id=str(user.id), ip=ip)
        stored = await self.store.get_user(str(user.id))
        mark = _rules.lock_mark(stored.last_failed_login_at if stored is not None else None)
        values = {"unlock_link": ""}
        if mark is not None:
            token = self.ctx.tokens.dumps("unlock", str(user.id), mark)
            values["unlock_link"] = self.settings.url(f"/unlock/{token}")
        await self.ctx.mail(
            "account_locked", user.email, link=self.settings.url("/reset"), values=values
        )

    async def unlock(self, token: object, *, ip: str | None = None) -> Any:
        """Zero the failures with the unlock link of a lock notice, once (RL-07).

        The token is bound to the time the lock counts from, which the unlock clears; the
        security stamp does not move, so the owner's sessions and tokens survive.
        """
        ctx = self.ctx
        await ctx.limit("token", ip)
        payload = ctx.load_token("unlock", token, self.settings.unlock_max_age)
        if len(payload) != 2:
            raise InvalidToken
        user_id, lock_print = payload
        user = await self.store.get_user(user_id)
        mark = _rules.lock_mark(user.last_failed_login_at) if user is not None else None
        if mark is None or not ctx.tokens.matches(lock_print, mark):
            raise InvalidToken
        user = await self.store.update_user(user, UNLOCKED)
        ctx.events.emit("account_unlocked", user_id=user_id, ip=ip)
        return user

    async def reauthenticate(self, identity: Identity, password: object) -> Identity:
        """Make this session fresh again by entering the password (SS-07)."""
        if identity.via != "session":
            raise ReauthRequired("Re-authentication needs a browser session.")
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        user = await self.check_password(identity.user, plain, ip=identity.credential.ip)
        now = self.ctx.clock.now()
        await self.store.touch_credential(
            identity.credential.id, last_used_at=now, authenticated_at=now
        )
        self.ctx.events.emit("reauthenticated", user_id=identity.user_id)
        refreshed = attrs.evolve(identity.credential, last_used_at=now, authenticated_at=now)
        return Identity(user=user, credential=refreshed, via="session", fresh=True)

    async def public_user(self, user: Any) -> dict[str, Any]:
        """``{"user": {...}}`` as ``GET /me`` shows it, with every feature's fields."""
        body = self.web.user_json(user)
        for feature in self.ctx.features.values():
            await feature.extend_user_json(user, body["user"])
        return body

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/login", json=False)
    async def login_page(self, call: Call) -> HttpResponse:
        """The login form (saying who is logged in already, if anyone)."""
        signed_in = call.identity.user.email if call.identity is not None else None
        return self.web.page(call.request, "doorward/login.html", signed_in=signed_in)

    @endpoint(
        "POST",
        "/login",
        limit="login",
        form="doorward/login.html",
        body={"email": str, "password": str, "remember": bool, "next": str},
        required=("email", "password"),
    )
    async def login_submit(self, call: Call) -> HttpResponse:
        """Email, password and ``remember`` → a session cookie (and remember-me)."""
        remember = checkbox(
            call.fields.get("remember", False),
            form=call.request.form is not None or call.request.content_type != "application/json",
        )
        try:
            user, issued = await self.login(
                call.field("email"),
                call.field("password"),
                remember=remember,
                ip=call.ip,
                user_agent=call.request.headers.get("user-agent"),
                replacing=call.identity,
                trust_token=call.request.cookies.get(self.web.trust_cookie),
            )
        except MfaRequired as required:
            return self._second_step(call, required)
        return await self.signed_in(call, user, issued)

    async def sign_in(
        self, call: Call, user: Any, *, factors_checked: bool = False
    ) -> HttpResponse:
        """Sign ``user`` in after another proof of who they are (a provider, an emailed code):
        a second factor is still asked when the account has one (MF-08), exactly as after a
        password; browsers then go to ``next`` of ``call``. ``factors_checked``: the proof
        counts as both factors (a passkey with user verification, a provider trusted to
        say it checked a second factor), so none is asked."""
        agent = call.request.headers.get("user-agent")
        trust = call.request.cookies.get(self.web.trust_cookie)
        methods = [] if factors_checked else await self.factors_asked(user, trust_token=trust)
        if methods:
            required = await self.pending(user, methods, remember=False, ip=call.ip, agent=agent)
            return self._second_step(call, required)
        user, issued = await self._finish(
            user, remember=False, ip=call.ip, user_agent=agent, replacing=call.identity
        )
        return await self.signed_in(call, user, issued)

    def _second_step(self, call: Call, required: MfaRequired) -> HttpResponse:
        """200 ``mfa_required`` (JSON) or 303 to the second-step page, with the pending cookie."""
        if call.as_json:
            body = {"mfa_required": True, "methods": list(required.methods)}
            response = HttpResponse(json=body, headers={"Cache-Control": "no-store"})
        else:
            target = self.web.next_target(call, self.settings.login_redirect)
            query = urlencode({"next": target})
            response = HttpResponse(
                status=303, redirect=f"{self.settings.url_prefix}/login/mfa?{query}"
            )
        response.cookies.append(
            self.web.cookie(self.web.mfa_cookie, required.token, required.max_age)
        )
        return self.web.with_csrf(call.request, response)

    async def signed_in(self, call: Call, user: Any, issued: IssuedSession) -> HttpResponse:
        """The answer to a completed login: the user (JSON) or 303 to ``next``, the cookies.

        A user who must enrol a second factor first gets ``"mfa_enrolment_required": true``
        (JSON) or goes to ``/mfa`` (browsers).
        """
        enrol = await self.enrolment_required(user)
        if call.as_json:
            body = self.web.user_json(user)
            if enrol:
                body["mfa_enrolment_required"] = True
            response = HttpResponse(json=body)
        else:
            target = self.web.next_target(call, self.settings.login_redirect)
            if enrol:
                query = urlencode({"notice": "mfa_enrolment_required", "next": target})
                target = f"{self.settings.url_prefix}/mfa?{query}"
            response = HttpResponse(status=303, redirect=target)
        response.cookies.extend(self.web.session_cookies(issued))
        return self.web.with_csrf(call.request, response, rotate=True)

    @endpoint("GET", "/me", access="user")
    async def me(self, call: Call) -> HttpResponse:
        """The current user's public fields."""
        body = await self.public_user(call.current.user)
        if call.as_json:
            return HttpResponse(json=body)
        return self.web.page(call.request, "doorward/me.html", user=body["user"])

    @endpoint("GET", "/unlock/{token}")
    async def unlock_page(self, call: Call) -> HttpResponse:
        """The page with the Unlock button of a lock notice (GET changes nothing: CR-02)."""
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        return self.web.page(call.request, "doorward/unlock.html", token=call.params["token"])

    @endpoint("POST", "/unlock/{token}", limit="token", form="doorward/unlock.html")
    async def unlock_submit(self, call: Call) -> HttpResponse:
        """Zero the failures once; the owner can log in at once (RL-07)."""
        await self.unlock(call.params["token"], ip=call.ip)
        if call.as_json:
            return HttpResponse(json={"unlocked": True})
        return self.web.redirect("/login?notice=unlocked")

    @endpoint("GET", "/reauth", access="session", json=False)
    async def reauth_page(self, call: Call) -> HttpResponse:
        """The password form that makes the session fresh (a new sign-in without a password)."""
        has_password = call.current.user.password_hash is not None
        return self.web.page(call.request, "doorward/reauth.html", has_password=has_password)

    @endpoint(
        "POST",
        "/reauth",
        access="session",
        form="doorward/reauth.html",
        body={"password": str, "next": str},
        required=("password",),
    )
    async def reauth_submit(self, call: Call) -> HttpResponse:
        """The password again → a fresh session (SS-07)."""
        await self.reauthenticate(call.current, call.field("password"))
        if call.as_json:
            return HttpResponse(json={"fresh": True})
        target = self.web.next_target(call, self.settings.login_redirect)
        return HttpResponse(status=303, redirect=target)
