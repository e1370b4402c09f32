"""The sessions half of the login feature: starting sessions, knowing who makes each
request (session, remember-me, API token), logout, freshness.

``AsyncLogin`` (``login.py``) builds on it; it is one feature in two modules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from doorward import _rules
from doorward._async.feature import AsyncFeature
from doorward._rules import Identity, IssuedSession
from doorward.exceptions import ReauthRequired
from doorward.http import HttpResponse
from doorward.records import Credential, CredentialKind
from doorward.routing import endpoint
from doorward.tokens import ACCESS_TOKEN_PREFIX
from doorward.web import Call

__all__ = ["AsyncLoginSessions"]


class AsyncLoginSessions(AsyncFeature):
    """Sessions, remember-me, bearer tokens, logout and freshness (part of ``login``)."""

    # -- flows -------------------------------------------------------------------------------

    async def start_session(
        self,
        user: Any,
        *,
        remember: bool,
        ip: str | None,
        user_agent: str | None,
        authenticated: bool,
        remember_expires: datetime | None = None,
    ) -> IssuedSession:
        """Store a new session (and remember-me token) for ``user``; the cookies to set."""
        issued, credentials = self.new_session(
            user,
            self.ctx.clock.now(),
            remember=remember,
            ip=ip,
            user_agent=user_agent,
            authenticated=authenticated,
            remember_expires=remember_expires,
        )
        for credential in credentials:
            await self.store.create_credential(credential)
        return issued

    def new_session(
        self,
        user: Any,
        now: datetime,
        *,
        remember: bool,
        ip: str | None,
        user_agent: str | None,
        authenticated: bool,
        remember_expires: datetime | None = None,
    ) -> tuple[IssuedSession, list[Credential]]:
        """A new session (and remember-me token) for ``user`` and the credentials to store
        for it, not stored yet."""
        ctx = self.ctx
        agent = (user_agent or "")[:256] or None
        token, credential = ctx.new_credential(
            user,
            "session",
            now,
            expires_at=now + self.settings.session_max_age,
            last_used_at=now,
            authenticated_at=now if authenticated else None,
            ip=ip,
            user_agent=agent,
        )
        if not remember:
            return IssuedSession(token=token, credential=credential, user=user), [credential]
        expires = remember_expires or now + self.settings.remember_lifetime
        remember_token, remembered = ctx.new_credential(
            user, "remember", now, expires_at=expires, ip=ip, user_agent=agent
        )
        issued = IssuedSession(
            token=token,
            credential=credential,
            remember_token=remember_token,
            remember_max_age=max(0, int((expires - now).total_seconds())),
            user=user,
        )
        return issued, [credential, remembered]

    async def authenticate(
        self,
        *,
        session_token: str | None = None,
        remember_token: str | None = None,
        bearer_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        roles: bool = False,
    ) -> Identity | None:
        """Who is making this request, or ``None`` for an anonymous one.

        A bearer token wins over cookies. A valid session cookie costs one signature check
        and one indexed lookup. When only a remember-me cookie is valid it is used once:
        it is replaced by a new one with the same absolute expiry and a new, not fresh,
        session is started (TK-10); the adapter sets both cookies from ``issued``.
        With ``roles``, a store that has ``get_credential_with_roles`` gives the user's
        roles and permissions in the same lookup (``Identity.roles``/``permissions``).
        """
        if bearer_token is not None:
            access = bearer_token.startswith(ACCESS_TOKEN_PREFIX)
            kind: CredentialKind = "access" if access else "api"
            return await self._from_credential(kind, bearer_token, roles=roles)
        if session_token is not None:
            identity = await self._from_credential("session", session_token, roles=roles)
            if identity is not None:
                return identity
        if remember_token is not None:
            return await self._restore(remember_token, ip=ip, user_agent=user_agent)
        return None

    async def _from_credential(
        self, kind: CredentialKind, token: str, *, roles: bool = False
    ) -> Identity | None:
        secret_hash = self.ctx.secrets.secret_hash(kind, token)
        if secret_hash is None:
            return None
        with_roles = getattr(self.store, "get_credential_with_roles", None) if roles else None
        role_names: frozenset[str] | None = None
        permissions: frozenset[str] | None = None
        if with_roles is not None:
            answer = await with_roles(kind, secret_hash)
            if answer is None:
                return None
            credential, user, role_names, permissions = answer
        else:
            found = await self.store.get_credential(kind, secret_hash)
            if found is None:
                return None
            credential, user = found
        now = self.ctx.clock.now()
        if not _rules.credential_alive(credential, user, now, self.settings):
            return None
        if _rules.needs_touch(credential, now, self.settings):
            await self.store.touch_credential(credential.id, last_used_at=now)
        fresh = kind == "session" and _rules.is_fresh(credential, now, self.settings)
        return Identity(
            user=user,
            credential=credential,
            via=kind,
            fresh=fresh,
            roles=role_names,
            permissions=permissions,
        )

    async def _restore(
        self, remember_token: str, *, ip: str | None, user_agent: str | None
    ) -> Identity | None:
        secret_hash = self.ctx.secrets.secret_hash("remember", remember_token)
        if secret_hash is None:
            return None
        found = await self.store.get_credential("remember", secret_hash)
        if found is None:
            return None
        credential, user = found
        now = self.ctx.clock.now()
        if not _rules.credential_alive(credential, user, now, self.settings):
            return None
        if not await self.store.delete_credential(credential.id):
            return None
        issued = await self.start_session(
            user,
            remember=True,
            ip=ip,
            user_agent=user_agent,
            authenticated=False,
            remember_expires=credential.expires_at,
        )
        return Identity(
            user=user, credential=issued.credential, via="session", fresh=False, issued=issued
        )

    async def logout(self, identity: Identity, *, remember_token: str | None = None) -> None:
        """End this session (and this device's remember-me token) on the server (SS-04).

        A bearer API token stays (revoke it at ``/tokens``); an app client's access token
        ends, and its refresh family with ``/token/revoke``.
        """
        if identity.via != "api":
            await self.store.delete_credential(identity.credential.id, identity.user_id)
        if remember_token is not None:
            secret_hash = self.ctx.secrets.secret_hash("remember", remember_token)
            found = (
                await self.store.get_credential("remember", secret_hash) if secret_hash else None
            )
            if found is not None and found[0].user_id == identity.user_id:
                await self.store.delete_credential(found[0].id, identity.user_id)
        self.ctx.events.emit("logged_out", user_id=identity.user_id)

    async def logout_everywhere(self, user: Any) -> Any:
        """Rotate the security stamp: every session, remember-me and API token dies."""
        user = await self.ctx.rotate_stamp(user, {})
        await self.ctx.forget_credentials(user)
        self.ctx.events.emit("logged_out_everywhere", user_id=str(user.id))
        return user

    def require_fresh(self, identity: Identity) -> None:
        """Raise ``ReauthRequired`` unless the password was entered recently (SS-07)."""
        if not _rules.is_fresh(identity.credential, self.ctx.clock.now(), self.settings):
            raise ReauthRequired

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("POST", "/logout", body={"next": str}, status=204)
    async def logout_submit(self, call: Call) -> HttpResponse:
        """End this session; browsers go to a safe ``next``."""
        if call.identity is not None:
            await self.logout(
                call.identity, remember_token=call.request.cookies.get(self.web.remember_cookie)
            )
        if call.as_json:
            response = HttpResponse(status=204)
        else:
            target = self.web.next_target(call, self.settings.logout_redirect)
            response = HttpResponse(status=303, redirect=target)
        self.web.signed_out(response)
        return self.web.with_csrf(call.request, response, rotate=True)

    @endpoint("POST", "/logout-everywhere", access="user", status=204)
    async def logout_everywhere_submit(self, call: Call) -> HttpResponse:
        """Rotate the stamp: every session and token of the user ends."""
        await self.logout_everywhere(call.current.user)
        return await self.logout_submit(attrs.evolve(call, identity=None))
