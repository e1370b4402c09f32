# Generated from packages/core/src/doorward/_async/app_clients.py by scripts/unasync.py. Do not edit: edit the source.
"""Tokens for app clients (mobile apps, SPAs): short access tokens, rotating refresh tokens.

``POST /token`` with ``grant_type=password`` checks the password under every login rule
(and asks the second factor: ``mfa_required`` with an ``mfa_token``, then
``grant_type=mfa``); ``grant_type=refresh_token`` rotates. The access token is a bearer
credential of kind ``access`` (one signature check and one indexed lookup per request,
like API tokens; dead at once when its family is revoked or the stamp moves). Refresh
tokens are stored hashed (``RefreshTokens`` capability), each usable once: presenting a
used one is reuse, and its whole family dies (PL-03, RFC 9700 §4.14). Logout
everywhere, a password change and deactivation end every family (the stamp moves; the
records are deleted). Off unless ``Settings.app_clients`` is set.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any, Protocol

from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.protocols import Credentials, Users
from doorward.capabilities import Capability
from doorward.exceptions import (
    DoorwardError,
    InvalidCredentials,
    InvalidToken,
    MfaRequired,
    NotFound,
    ValidationFailed,
)
from doorward.http import HttpResponse, error_response
from doorward.i18n import N_
from doorward.records import RefreshToken
from doorward.routing import endpoint
from doorward.tokens import hash_secret
from doorward.web import Call

__all__ = ["REFRESH_TOKEN_PREFIX", "AppClients", "RefreshTokens"]

REFRESH_TOKEN_PREFIX = "dwr_"  # noqa: S105 (a public prefix, not a secret)
_REFRESH_TOKEN = re.compile(r"dwr_[A-Za-z0-9_-]{43}")
GRANTS = ("password", "mfa", "refresh_token")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def refresh_hash(token: object) -> str | None:
    """The stored hash of a well-formed refresh token; ``None`` for anything else (TK-05)."""
    if not isinstance(token, str) or _REFRESH_TOKEN.fullmatch(token) is None:
        return None
    return hash_secret(token[len(REFRESH_TOKEN_PREFIX) :])


class RefreshTokens(Protocol):
    """The refresh tokens capability: rotating token families of app clients (PL-03).

    ``delete_user`` deletes the user's refresh tokens too.
    ``doorward.testing.RefreshTokensContract`` checks every rule below.
    """

    def create_refresh_token(self, token: RefreshToken) -> None:
        """Store the record. ``id`` and ``secret_hash`` are unique; ``NotFound`` for no user."""

    def get_refresh_token(self, secret_hash: str) -> tuple[RefreshToken, Any] | None:
        """The token with this hash (used or not) together with its user, or ``None``."""

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        """Set ``used_at = at`` if it is unset; ``True`` only to the call that did.

        One conditional update (``UPDATE ... SET used_at = :at WHERE id = ? AND used_at IS
        NULL``): of concurrent uses of one token exactly one wins.
        """

    def list_refresh_tokens(self, user_id: str) -> list[RefreshToken]:
        """The user's unused tokens (one per live family), oldest first."""

    def delete_refresh_family(self, family_id: str, user_id: str | None = None) -> int:
        """Delete every token of the family (only the user's when given); return how many."""

    def delete_refresh_tokens(self, user_id: str) -> int:
        """Delete every refresh token of the user; return how many."""

    def delete_expired_refresh_tokens(self, now: datetime) -> int:
        """Delete every token whose ``expires_at`` is before ``now``; return how many."""


class AppClients(Feature):
    """``/token`` and ``/token/revoke``."""

    name = "app_clients"
    capabilities: tuple[Capability, ...] = (Users, Credentials, RefreshTokens)
    events = frozenset({"app_signed_in", "refresh_token_reused", "app_client_revoked"})

    def wanted(self) -> bool:
        """On only when ``Settings.app_clients`` is set."""
        return self.settings.app_clients

    @property
    def login_feature(self) -> Login:
        """The login feature, whose password and second-factor steps this one uses."""
        return self.ctx.feature(Login)

    # -- flows -------------------------------------------------------------------------------

    def password_grant(
        self,
        email: object,
        password: object,
        *,
        client_name: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> dict[str, Any]:
        """The tokens of a new family, or ``MfaRequired`` (its token for ``mfa_grant``)."""
        login = self.login_feature
        user, methods = login.password_step(email, password, ip=ip)
        if methods:
            raise login.pending(
                user, methods, remember=False, ip=ip, agent=_label(user_agent, 256)
            )
        return self._signed_in(user, client_name=client_name, ip=ip, user_agent=user_agent)

    def mfa_grant(
        self,
        mfa_token: object,
        code: object,
        *,
        client_name: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> dict[str, Any]:
        """The second factor of a pending app sign-in → the tokens of a new family."""
        steps = self.ctx.features.get("mfa")
        if steps is None:
            raise InvalidCredentials
        pending, user = steps.check_second_step(mfa_token, code, ip=ip)
        if not self.store.delete_credential(pending.id, str(user.id)):
            raise InvalidCredentials
        return self._signed_in(user, client_name=client_name, ip=ip, user_agent=user_agent)

    def _signed_in(
        self, user: Any, *, client_name: str | None, ip: str | None, user_agent: str | None
    ) -> dict[str, Any]:
        ctx = self.ctx
        now = ctx.clock.now()
        user = self.store.record_login(user, now, ip)
        family = "f" + secrets.token_urlsafe(12)
        body = self._issue(
            user,
            family,
            expires_at=now + self.settings.refresh_token_lifetime,
            signed_in_at=now,
            name=_label(client_name, 100),
            ip=ip,
            user_agent=_label(user_agent, 256),
        )
        ctx.events.emit("app_signed_in", user_id=str(user.id), ip=ip)
        ctx.events.emit("login_succeeded", user=user, user_id=str(user.id), ip=ip)
        return body

    def _issue(self, user: Any, family: str, **fields: Any) -> dict[str, Any]:
        """A new refresh token of ``family`` and a new access token: the grant's answer."""
        ctx = self.ctx
        now = ctx.clock.now()
        raw = secrets.token_urlsafe(32)
        self.store.create_refresh_token(
            RefreshToken(
                id="r" + secrets.token_urlsafe(12),
                family_id=family,
                user_id=str(user.id),
                secret_hash=hash_secret(raw),
                stamp=user.security_stamp,
                created_at=now,
                **fields,
            )
        )
        lifetime = self.settings.access_token_lifetime
        access, credential = ctx.new_credential(
            user, "access", now, expires_at=now + lifetime, name=family
        )
        self.store.create_credential(credential)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(lifetime.total_seconds()),
            "refresh_token": REFRESH_TOKEN_PREFIX + raw,
        }

    def refresh(
        self, refresh_token: object, *, ip: str | None = None, user_agent: str | None = None
    ) -> dict[str, Any]:
        """Rotate: the token is used up, the next of its family and an access token issued.

        A used token presented again, or one lost in a race of two uses, ends the whole
        family (PL-03). Every refusal is ``InvalidToken``.
        """
        ctx = self.ctx
        secret_hash = refresh_hash(refresh_token)
        found = self.store.get_refresh_token(secret_hash) if secret_hash else None
        if found is None:
            raise InvalidToken
        token, user = found
        now = ctx.clock.now()
        if token.used_at is not None:
            self._reused(token)
            raise InvalidToken
        if not user.active or token.stamp != user.security_stamp or now >= token.expires_at:
            self.end_family(token.user_id, token.family_id)
            raise InvalidToken
        if not self.store.use_refresh_token(token.id, now):
            self._reused(token)
            raise InvalidToken
        return self._issue(
            user,
            token.family_id,
            expires_at=token.expires_at,
            signed_in_at=token.signed_in_at,
            name=token.name,
            ip=ip,
            user_agent=_label(user_agent, 256) or token.user_agent,
        )

    def _reused(self, token: RefreshToken) -> None:
        self.ctx.events.emit(
            "refresh_token_reused", user_id=token.user_id, family_id=token.family_id
        )
        self.end_family(token.user_id, token.family_id)

    def end_family(self, user_id: str, family_id: str) -> int:
        """Delete a family's refresh tokens and its live access tokens; how many refresh tokens."""
        ended = int(self.store.delete_refresh_family(family_id, user_id))
        for credential in self.store.list_credentials(user_id, "access"):
            if credential.name == family_id:
                self.store.delete_credential(credential.id, user_id)
        return ended

    def revoke(self, refresh_token: object) -> None:
        """End the family of this refresh token (used or not); unknown tokens are ignored."""
        secret_hash = refresh_hash(refresh_token)
        found = self.store.get_refresh_token(secret_hash) if secret_hash else None
        if found is not None:
            token = found[0]
            self.end_family(token.user_id, token.family_id)
            self.ctx.events.emit(
                "app_client_revoked", user_id=token.user_id, family_id=token.family_id
            )

    def list_clients(self, user: Any) -> list[dict[str, Any]]:
        """The user's signed-in app clients (one per live family), for the sessions list."""
        now = self.ctx.clock.now()
        return [
            {
                "id": token.family_id,
                "kind": "app",
                "name": token.name,
                "created_at": token.signed_in_at.isoformat(),
                "last_used_at": token.created_at.isoformat(),
                "expires_at": token.expires_at.isoformat(),
                "ip": token.ip,
                "user_agent": token.user_agent,
                "current": False,
            }
            for token in self.store.list_refresh_tokens(str(user.id))
            if token.stamp == user.security_stamp and now < token.expires_at
        ]

    def revoke_client(self, user: Any, family_id: str) -> None:
        """End one of the user's app clients; ``NotFound`` if it is not theirs."""
        if not self.end_family(str(user.id), family_id):
            raise NotFound
        self.ctx.events.emit("app_client_revoked", user_id=str(user.id), family_id=family_id)

    # -- endpoints -------------------------------------------------------------------------

    @endpoint(
        "POST",
        "/token",
        csrf=False,
        limit="app_token",
        body={
            "grant_type": str,
            "email": str,
            "password": str,
            "refresh_token": str,
            "mfa_token": str,
            "code": str,
            "client_name": str,
        },
        required=("grant_type",),
    )
    def token_submit(self, call: Call) -> HttpResponse:
        """``grant_type`` password, mfa or refresh_token → access and refresh tokens (JSON)."""
        try:
            body = self._grant(call)
        except MfaRequired as required:
            body = {
                "mfa_required": True,
                "methods": list(required.methods),
                "mfa_token": required.token,
                "expires_in": required.max_age,
            }
        except DoorwardError as exc:
            response = error_response(exc, json_body=True)
            response.headers.update(NO_STORE)
            return response
        return HttpResponse(json=body, headers=dict(NO_STORE))

    def _grant(self, call: Call) -> dict[str, Any]:
        ctx = self.ctx
        ctx.limit("app_token", call.ip)
        grant = call.fields.get("grant_type")
        agent = call.request.headers.get("user-agent")
        name = call.fields.get("client_name")
        client_name = name if isinstance(name, str) else None
        if grant == "password":
            _require(call, "email", "password")
            return self.password_grant(
                call.field("email"),
                call.field("password"),
                client_name=client_name,
                ip=call.ip,
                user_agent=agent,
            )
        if grant == "mfa":
            _require(call, "mfa_token", "code")
            return self.mfa_grant(
                call.field("mfa_token"),
                call.field("code"),
                client_name=client_name,
                ip=call.ip,
                user_agent=agent,
            )
        if grant == "refresh_token":
            _require(call, "refresh_token")
            return self.refresh(call.field("refresh_token"), ip=call.ip, user_agent=agent)
        raise ValidationFailed(
            {"grant_type": [N_("Use one of: %(choices)s.", choices=", ".join(GRANTS))]}
        )

    @endpoint(
        "POST",
        "/token/revoke",
        csrf=False,
        limit="app_token",
        body={"refresh_token": str},
        required=("refresh_token",),
    )
    def revoke_submit(self, call: Call) -> HttpResponse:
        """End the refresh token's family; 200 whatever the token was (RFC 7009 §2.2)."""
        try:
            self.ctx.limit("app_token", call.ip)
            _require(call, "refresh_token")
            self.revoke(call.field("refresh_token"))
        except DoorwardError as exc:
            return error_response(exc, json_body=True)
        return HttpResponse(json={"revoked": True}, headers=dict(NO_STORE))


def _require(call: Call, *names: str) -> None:
    missing = {
        name: [N_("This field is required.")]
        for name in names
        if not isinstance(call.fields.get(name), str) or not call.fields[name].strip()
    }
    if missing:
        raise ValidationFailed(missing)


def _label(value: str | None, length: int) -> str | None:
    """A client-given label cut to what the store keeps; ``None`` for nothing."""
    return (value or "")[:length] or None
