# Generated from packages/core/src/doorward/_async/service.py by scripts/unasync.py. Do not edit: edit the source.
"""Every flow of doorward, written once.

``Auth`` (this file) is the source; ``doorward/_sync/service.py`` (``Auth``) is
generated from it by ``scripts/unasync.py``. Adapters translate HTTP to these calls and
the typed errors back to HTTP; they hold no auth logic of their own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from doorward import _rules
from doorward._sync.mailers import ConsoleMailer
from doorward._sync.protocols import Mailer, PasswordHasher, UserStore
from doorward._sync.ratelimit import MemoryRateLimiter, RateLimiter
from doorward._rules import Identity, IssuedSession
from doorward.clock import Clock, SystemClock
from doorward.events import Events
from doorward.exceptions import (
    AccountLocked,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    MailerUnavailable,
    NotFound,
    RateLimited,
    ReauthRequired,
    StoreUnavailable,
    ValidationFailed,
)
from doorward.hashing import Argon2Hasher
from doorward.mail import MailTemplates, render_mail
from doorward.policies import BreachChecker, check_new_password, normalize_email, prepare_password
from doorward.records import Credential, CredentialKind, NewUser
from doorward.settings import Settings
from doorward.tokens import CredentialSecrets, EmailTokens, Purpose, new_stamp

__all__ = ["Auth"]

logger = logging.getLogger("doorward")

_ALL_KINDS: tuple[CredentialKind, ...] = ("session", "remember", "api")


class Auth:
    """The flows of one site: registration, login, sessions, passwords, email, tokens, roles.

    Build one per application at start-up and share it; it holds no per-user state, so
    any number of processes over one store behave as one.
    """

    def __init__(
        self,
        settings: Settings,
        store: UserStore,
        *,
        mailer: Mailer | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        events: Events | None = None,
        limiter: RateLimiter | None = None,
        templates: MailTemplates | None = None,
        breach_checker: BreachChecker | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mailer: Mailer = mailer or ConsoleMailer()
        self.hasher: PasswordHasher = hasher or Argon2Hasher.from_settings(settings)
        self.clock: Clock = clock or SystemClock()
        self.events = events or Events()
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self.templates = templates or MailTemplates()
        self.breach_checker = breach_checker
        self.tokens = EmailTokens(settings.secret_keys, self.clock)
        self.secrets = CredentialSecrets(settings.secret_keys)

    # -- registration and confirmation -----------------------------------------------------

    def register(
        self,
        email: object,
        password: object,
        *,
        ip: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Any | None:
        """Create an account and mail a confirmation link.

        Returns the new user, or ``None`` when the address already had an account: its
        owner is mailed a notice instead, and the caller must answer exactly as for a new
        account (LE-04). ``extra`` sets application fields; never pass request data there.
        """
        self._limit("register", ip)
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        plain = check_new_password(
            password, self.settings, context=(address,), breach_checker=self.breach_checker
        )
        password_hash = self.hasher.hash(plain)
        now = self.clock.now()
        new = NewUser(
            email=address,
            normalized_email=key,
            password_hash=password_hash,
            security_stamp=new_stamp(),
            created_at=now,
            extra=dict(extra or {}),
        )
        try:
            user = self.store.create_user(new)
        except EmailTaken:
            existing = self.store.get_user_by_email(key)
            self.events.emit("registration_attempt_for_existing_email", ip=ip)
            if existing is not None:
                self._mail(
                    "existing_account", existing.email, link=self.settings.url("/login")
                )
            return None
        self.events.emit("user_registered", user=user, user_id=str(user.id), ip=ip)
        self._send_confirmation(user)
        return user

    def send_confirmation(self, email: object, *, ip: str | None = None) -> None:
        """Mail a new confirmation link if the address has an unconfirmed account (neutral)."""
        self._limit("send_confirmation", ip)
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        user = self.store.get_user_by_email(key)
        if user is not None and user.active and user.confirmed_at is None:
            self._send_confirmation(user)

    def confirm_email(self, token: object, *, ip: str | None = None) -> Any:
        """Mark the address confirmed. The token is bound to the address it was sent to (TK-04).

        A second use fails: the token is only valid while the account is unconfirmed.
        """
        self._limit("token", ip)
        payload = self._load_token("confirm", token, self.settings.confirm_max_age)
        if len(payload) != 2:
            raise InvalidToken
        user_id, email_print = payload
        user = self.store.get_user(user_id)
        if (
            user is None
            or user.confirmed_at is not None
            or not self.tokens.matches(email_print, user.normalized_email)
        ):
            raise InvalidToken
        user = self.store.update_user(user, {"confirmed_at": self.clock.now()})
        self.events.emit("email_confirmed", user=user, user_id=user_id)
        return user

    def _send_confirmation(self, user: Any) -> None:
        token = self.tokens.dumps("confirm", str(user.id), user.normalized_email)
        self._mail("confirm", user.email, link=self.settings.url(f"/confirm/{token}"))
        self.events.emit("confirmation_sent", user_id=str(user.id))

    # -- login and sessions ----------------------------------------------------------------

    def login(
        self,
        email: object,
        password: object,
        *,
        remember: bool = False,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[Any, IssuedSession]:
        """Check the credentials and start a session: ``(user, issued)``.

        Every refusal is ``InvalidCredentials`` (LE-01) and costs exactly one password
        hash (LE-02); every refused attempt on an existing account counts towards the
        lockout, including those refused while locked, whose password is not checked.
        """
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        self._limit("login", ip)
        user = self.store.get_user_by_email(key)
        if user is None:
            self.hasher.verify(None, plain)
            self.events.emit("login_failed", reason="unknown_user", ip=ip)
            raise InvalidCredentials
        user = self._check_password(user, plain, ip=ip)
        if not user.active or (self.settings.confirm_required and user.confirmed_at is None):
            reason = "inactive" if not user.active else "unconfirmed"
            self.events.emit("login_failed", user_id=str(user.id), reason=reason, ip=ip)
            raise InvalidCredentials
        if user.password_hash is not None and self.hasher.needs_rehash(user.password_hash):
            rehashed = self.hasher.hash(plain)
            user = self.store.update_user(user, {"password_hash": rehashed})
            self.events.emit("password_rehashed", user_id=str(user.id))
        now = self.clock.now()
        user = self.store.record_login(user, now, ip)
        issued = self._start_session(
            user, remember=remember, ip=ip, user_agent=user_agent, authenticated=True
        )
        self.events.emit("login_succeeded", user=user, user_id=str(user.id), ip=ip)
        return user, issued

    def _check_password(self, user: Any, plain: str, *, ip: str | None) -> Any:
        """Verify the password of a known user under the lockout rules; return the user."""
        now = self.clock.now()
        wait = _rules.lockout_wait(
            user.failed_logins, user.last_failed_login_at, now, self.settings
        )
        if wait is not None:
            self.hasher.verify(None, plain)
            self.store.increment_failed_logins(user, now)
            self.events.emit("login_failed", user_id=str(user.id), reason="locked", ip=ip)
            if self.settings.neutral_login_errors:
                raise InvalidCredentials
            raise AccountLocked(retry_after=wait.total_seconds())
        if self.hasher.verify(user.password_hash, plain):
            return user
        count = self.store.increment_failed_logins(user, now)
        self.events.emit("login_failed", user_id=str(user.id), reason="password", ip=ip)
        if count == self.settings.lockout_threshold:
            self.events.emit("account_locked", user_id=str(user.id), ip=ip)
            self._mail("account_locked", user.email, link=self.settings.url("/reset"))
        raise InvalidCredentials

    def _start_session(
        self,
        user: Any,
        *,
        remember: bool,
        ip: str | None,
        user_agent: str | None,
        authenticated: bool,
        remember_expires: datetime | None = None,
    ) -> IssuedSession:
        now = self.clock.now()
        agent = (user_agent or "")[:256] or None
        token, credential = self._new_credential(
            user,
            "session",
            now,
            expires_at=now + self.settings.session_max_age,
            last_used_at=now,
            authenticated_at=now if authenticated else None,
            ip=ip,
            user_agent=agent,
        )
        self.store.create_credential(credential)
        if not remember:
            return IssuedSession(token=token, credential=credential)
        expires = remember_expires or now + self.settings.remember_lifetime
        remember_token, remembered = self._new_credential(
            user, "remember", now, expires_at=expires, ip=ip, user_agent=agent
        )
        self.store.create_credential(remembered)
        return IssuedSession(
            token=token,
            credential=credential,
            remember_token=remember_token,
            remember_max_age=max(0, int((expires - now).total_seconds())),
        )

    def authenticate(
        self,
        *,
        session_token: str | None = None,
        remember_token: str | None = None,
        bearer_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> Identity | None:
        """Who is making this request, or ``None`` for an anonymous one.

        A bearer token wins over cookies. A valid session cookie costs one signature check
        and one indexed lookup. When only a remember-me cookie is valid it is used once:
        it is replaced by a new one with the same absolute expiry and a new, not fresh,
        session is started (TK-10); the adapter sets both cookies from ``issued``.
        """
        if bearer_token is not None:
            return self._from_credential("api", bearer_token)
        if session_token is not None:
            identity = self._from_credential("session", session_token)
            if identity is not None:
                return identity
        if remember_token is not None:
            return self._restore(remember_token, ip=ip, user_agent=user_agent)
        return None

    def _from_credential(self, kind: CredentialKind, token: str) -> Identity | None:
        secret_hash = self.secrets.secret_hash(kind, token)
        if secret_hash is None:
            return None
        found = self.store.get_credential(kind, secret_hash)
        if found is None:
            return None
        credential, user = found
        now = self.clock.now()
        if not _rules.credential_alive(credential, user, now, self.settings):
            return None
        if _rules.needs_touch(credential, now, self.settings):
            self.store.touch_credential(credential.id, last_used_at=now)
        fresh = kind == "session" and _rules.is_fresh(credential, now, self.settings)
        return Identity(user=user, credential=credential, via=kind, fresh=fresh)

    def _restore(
        self, remember_token: str, *, ip: str | None, user_agent: str | None
    ) -> Identity | None:
        secret_hash = self.secrets.secret_hash("remember", remember_token)
        if secret_hash is None:
            return None
        found = self.store.get_credential("remember", secret_hash)
        if found is None:
            return None
        credential, user = found
        now = self.clock.now()
        if not _rules.credential_alive(credential, user, now, self.settings):
            return None
        if not self.store.delete_credential(credential.id):
            return None
        issued = self._start_session(
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

    def logout(self, identity: Identity, *, remember_token: str | None = None) -> None:
        """End this session (and this device's remember-me token) on the server (SS-04)."""
        if identity.via != "api":
            self.store.delete_credential(identity.credential.id, identity.user_id)
        if remember_token is not None:
            secret_hash = self.secrets.secret_hash("remember", remember_token)
            found = (
                self.store.get_credential("remember", secret_hash) if secret_hash else None
            )
            if found is not None and found[0].user_id == identity.user_id:
                self.store.delete_credential(found[0].id, identity.user_id)
        self.events.emit("logged_out", user_id=identity.user_id)

    def logout_everywhere(self, user: Any) -> Any:
        """Rotate the security stamp: every session, remember-me and API token dies."""
        user = self._rotate_stamp(user, {})
        self._forget_credentials(user)
        self.events.emit("logged_out_everywhere", user_id=str(user.id))
        return user

    def reauthenticate(self, identity: Identity, password: object) -> Identity:
        """Make this session fresh again by entering the password (SS-07)."""
        if identity.via != "session":
            raise ReauthRequired("Re-authentication needs a browser session.")
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        user = self._check_password(identity.user, plain, ip=identity.credential.ip)
        now = self.clock.now()
        self.store.touch_credential(
            identity.credential.id, last_used_at=now, authenticated_at=now
        )
        self.events.emit("reauthenticated", user_id=identity.user_id)
        refreshed = attrs.evolve(identity.credential, last_used_at=now, authenticated_at=now)
        return Identity(user=user, credential=refreshed, via="session", fresh=True)

    def require_fresh(self, identity: Identity) -> None:
        """Raise ``ReauthRequired`` unless the password was entered recently (SS-07)."""
        if not _rules.is_fresh(identity.credential, self.clock.now(), self.settings):
            raise ReauthRequired

    def list_sessions(self, user: Any) -> list[Credential]:
        """The user's live sessions, oldest first (SS-08)."""
        return self._live_credentials(user, "session")

    def revoke_session(self, user: Any, session_id: str) -> None:
        """End one of the user's sessions; ``NotFound`` if it is not theirs."""
        if not self.store.delete_credential(session_id, str(user.id)):
            raise NotFound
        self.events.emit("session_revoked", user_id=str(user.id), session_id=session_id)

    # -- passwords -------------------------------------------------------------------------

    def forgot_password(self, email: object, *, ip: str | None = None) -> None:
        """Mail a reset link if the address has an active account; same outcome either way."""
        self._limit("forgot_password", ip)
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        user = self.store.get_user_by_email(key)
        self.events.emit("password_reset_requested", ip=ip)
        if user is None or not user.active:
            return
        token = self.tokens.dumps("reset", str(user.id), user.security_stamp)
        self._mail("reset", user.email, link=self.settings.url(f"/reset/{token}"))

    def check_reset_token(self, token: object, *, ip: str | None = None) -> Any:
        """The user a reset token is for, without using it (for showing the form)."""
        self._limit("token", ip)
        user, _ = self._user_for_stamp_token("reset", token, self.settings.reset_max_age)
        return user

    def reset_password(
        self, token: object, new_password: object, *, ip: str | None = None
    ) -> Any:
        """Set a new password with an emailed token, once (TK-03).

        In one conditional update: the new hash, a new stamp (every session and token
        dies), the failure counter zeroed (RL-04), and the address confirmed (the mail
        proved it). Of concurrent uses exactly one succeeds (CC-02, CC-04).
        """
        self._limit("token", ip)
        user, _ = self._user_for_stamp_token("reset", token, self.settings.reset_max_age)
        plain = check_new_password(
            new_password, self.settings, context=(user.email,), breach_checker=self.breach_checker
        )
        password_hash = self.hasher.hash(plain)
        changes: dict[str, Any] = {
            "password_hash": password_hash,
            "failed_logins": 0,
            "last_failed_login_at": None,
        }
        if user.confirmed_at is None:
            changes["confirmed_at"] = self.clock.now()
        updated = self.store.compare_and_set_stamp(
            user, user.security_stamp, {**changes, "security_stamp": new_stamp()}
        )
        if updated is None:
            raise InvalidToken
        self._forget_credentials(updated)
        self.events.emit("password_reset", user=updated, user_id=str(updated.id))
        self._mail("password_changed", updated.email, link=self.settings.url("/reset"))
        return updated

    def change_password(
        self, identity: Identity, current_password: object, new_password: object
    ) -> IssuedSession:
        """Change the password knowing the current one; returns this device's new session.

        With ``end_sessions_on_change`` (the default) every other session and token ends
        (SS-05).
        """
        plain_current = prepare_password(
            current_password, max_length=self.settings.password_max_length
        )
        user = self._check_password(identity.user, plain_current, ip=identity.credential.ip)
        try:
            plain = check_new_password(
                new_password,
                self.settings,
                context=(user.email,),
                breach_checker=self.breach_checker,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                {"new_password": [m for msgs in exc.fields.values() for m in msgs]}
            ) from exc
        password_hash = self.hasher.hash(plain)
        user = self._rotate_stamp(user, {"password_hash": password_hash})
        self._after_stamp_rotation(user, identity)
        self.events.emit("password_changed", user=user, user_id=str(user.id))
        self._mail("password_changed", user.email, link=self.settings.url("/reset"))
        return self._start_session(
            user,
            remember=False,
            ip=identity.credential.ip,
            user_agent=identity.credential.user_agent,
            authenticated=True,
        )

    def set_password(self, user: Any, new_password: object) -> Any:
        """Set a user's password as an administrator (CLI); all their sessions end."""
        plain = check_new_password(
            new_password, self.settings, context=(user.email,), breach_checker=self.breach_checker
        )
        password_hash = self.hasher.hash(plain)
        user = self._rotate_stamp(
            user, {"password_hash": password_hash, "failed_logins": 0, "last_failed_login_at": None}
        )
        self._forget_credentials(user)
        self.events.emit("password_changed", user=user, user_id=str(user.id), by="admin")
        return user

    # -- email change ------------------------------------------------------------------------

    def request_email_change(
        self, identity: Identity, password: object, new_email: object
    ) -> None:
        """Mail a confirmation link to the new address; the address changes when it is used.

        Needs the password (re-authentication, SS-07). An address already in use gets the
        same answer and no link (the owner of that address learns nothing either).
        """
        plain = prepare_password(password, max_length=self.settings.password_max_length)
        address, key = normalize_email(
            new_email, max_length=self.settings.email_max_length, field="new_email"
        )
        user = self._check_password(identity.user, plain, ip=identity.credential.ip)
        if key == user.normalized_email:
            raise ValidationFailed({"new_email": ["This is already your email address."]})
        if self.store.get_user_by_email(key) is not None:
            self.events.emit("email_change_requested", user_id=str(user.id), taken=True)
            return
        user = self.store.update_user(user, {"pending_email": address})
        token = self.tokens.dumps("change_email", str(user.id), user.security_stamp, key)
        self.events.emit("email_change_requested", user_id=str(user.id))
        self._mail(
            "change_email", address, link=self.settings.url(f"/change-email/{token}"), strict=True
        )

    def confirm_email_change(self, token: object, *, ip: str | None = None) -> Any:
        """Move the account to the address the token was mailed to (TK-04, CC-05).

        The token must match both the stamp and the pending address, so of two parallel
        requests only the address that is pending now can be confirmed. The stamp rotates:
        the user's sessions end (SS-05). The old address gets a notice.
        """
        self._limit("token", ip)
        user, prints = self._user_for_stamp_token(
            "change_email", token, self.settings.change_email_max_age
        )
        pending = user.pending_email
        if pending is None or len(prints) < 1:
            raise InvalidToken
        address, key = normalize_email(pending, max_length=self.settings.email_max_length)
        if not self.tokens.matches(prints[0], key):
            raise InvalidToken
        old_address = user.email
        try:
            updated = self.store.compare_and_set_stamp(
                user,
                user.security_stamp,
                {
                    "email": address,
                    "normalized_email": key,
                    "pending_email": None,
                    "confirmed_at": self.clock.now(),
                    "security_stamp": new_stamp(),
                },
            )
        except EmailTaken:
            raise InvalidToken("This address is no longer available.") from None
        if updated is None:
            raise InvalidToken
        self._forget_credentials(updated)
        self.events.emit("email_changed", user=updated, user_id=str(updated.id))
        self._mail("email_changed", old_address, link=self.settings.url("/reset"))
        return updated

    # -- API tokens ----------------------------------------------------------------------------

    def issue_api_token(
        self, user: Any, name: object, *, expires_in: timedelta | None = None
    ) -> tuple[str, Credential]:
        """A new bearer token ``(token, record)``; the token is shown this once (TK-09)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationFailed({"name": ["Give the token a name of 1 to 100 characters."]})
        now = self.clock.now()
        lifetime = expires_in if expires_in is not None else self.settings.api_token_max_age
        if lifetime is not None and (
            self.settings.api_token_max_age is not None
            and lifetime > self.settings.api_token_max_age
        ):
            lifetime = self.settings.api_token_max_age
        token, credential = self._new_credential(
            user,
            "api",
            now,
            expires_at=now + lifetime if lifetime is not None else None,
            name=name.strip(),
        )
        self.store.create_credential(credential)
        self.events.emit("token_issued", user_id=str(user.id), token_id=credential.id)
        return token, credential

    def list_api_tokens(self, user: Any) -> list[Credential]:
        """The user's live API tokens, oldest first (never their secrets)."""
        return self._live_credentials(user, "api")

    def revoke_api_token(self, user: Any, token_id: str) -> None:
        """Revoke one of the user's API tokens; ``NotFound`` if it is not theirs."""
        tokens = self.store.list_credentials(str(user.id), "api")
        if not any(c.id == token_id for c in tokens):
            raise NotFound
        if not self.store.delete_credential(token_id, str(user.id)):
            raise NotFound
        self.events.emit("token_revoked", user_id=str(user.id), token_id=token_id)

    # -- administration ----------------------------------------------------------------------

    def create_user(
        self,
        email: object,
        password: object | None = None,
        *,
        confirmed: bool = False,
        active: bool = True,
        roles: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Create an account directly (CLI, admin); raises ``EmailTaken``. No mail is sent."""
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        password_hash = None
        if password is not None:
            plain = check_new_password(
                password, self.settings, context=(address,), breach_checker=self.breach_checker
            )
            password_hash = self.hasher.hash(plain)
        now = self.clock.now()
        user = self.store.create_user(
            NewUser(
                email=address,
                normalized_email=key,
                password_hash=password_hash,
                security_stamp=new_stamp(),
                created_at=now,
                active=active,
                confirmed_at=now if confirmed else None,
                extra=dict(extra or {}),
            )
        )
        for role in roles:
            self.add_role(user, role)
        self.events.emit("user_registered", user=user, user_id=str(user.id), by="admin")
        return user

    def get_user_by_email(self, email: object) -> Any | None:
        """The user with this address (normalised the same way as at registration)."""
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        return self.store.get_user_by_email(key)

    def set_active(self, user: Any, active: bool) -> Any:
        """Activate or deactivate; deactivation ends every session and token now (SS-06)."""
        if active:
            user = self.store.update_user(user, {"active": True})
            self.events.emit("user_activated", user_id=str(user.id))
            return user
        user = self._rotate_stamp(user, {"active": False})
        self._forget_credentials(user)
        self.events.emit("user_deactivated", user_id=str(user.id))
        return user

    def delete_user(self, user: Any) -> None:
        """Delete the account with its roles and credentials."""
        self.store.delete_user(user)
        self.events.emit("user_deleted", user_id=str(user.id))

    # -- roles and permissions ---------------------------------------------------------------

    def add_role(self, user: Any, name: str) -> bool:
        """Give a user a role (which must exist); ``False`` if they had it."""
        added = self.store.add_user_role(user, name)
        if added:
            self.events.emit("role_added", user_id=str(user.id), role=name)
        return added

    def remove_role(self, user: Any, name: str) -> bool:
        """Take a role away; ``False`` if they did not have it."""
        removed = self.store.remove_user_role(user, name)
        if removed:
            self.events.emit("role_removed", user_id=str(user.id), role=name)
        return removed

    def has_roles(self, user: Any, *names: str) -> bool:
        """Whether the user has every one of the roles."""
        return set(names) <= self.store.get_user_roles(user)

    def has_any_role(self, user: Any, *names: str) -> bool:
        """Whether the user has at least one of the roles."""
        return bool(set(names) & self.store.get_user_roles(user))

    def has_permissions(self, user: Any, *names: str) -> bool:
        """Whether the user's roles grant every one of the permissions."""
        return set(names) <= self.store.get_user_permissions(user)

    # -- helpers -----------------------------------------------------------------------------

    def _limit(self, action: str, ip: str | None) -> None:
        limit = self.settings.rate_limits.get(action)
        if limit is None or ip is None:
            return
        wait = self.limiter.hit(f"{action}:{ip}", limit, self.clock.now())
        if wait is not None:
            self.events.emit("rate_limited", action=action, ip=ip)
            raise RateLimited(retry_after=wait)

    def _load_token(self, purpose: Purpose, token: object, max_age: timedelta) -> tuple[str, ...]:
        return tuple(self.tokens.loads(purpose, token, max_age=max_age))

    def _user_for_stamp_token(
        self, purpose: Purpose, token: object, max_age: timedelta
    ) -> tuple[Any, tuple[str, ...]]:
        """The user of a stamp-bound token and the token's further fingerprints (TK-06)."""
        user_id, stamp_print, *rest = self._load_token(purpose, token, max_age)  # >= 2 parts
        user = self.store.get_user(user_id)
        if (
            user is None
            or not user.active
            or not self.tokens.matches(stamp_print, user.security_stamp)
        ):
            raise InvalidToken
        return user, tuple(rest)

    def _rotate_stamp(self, user: Any, changes: Mapping[str, Any]) -> Any:
        updated = self.store.compare_and_set_stamp(
            user, user.security_stamp, {**changes, "security_stamp": new_stamp()}
        )
        if updated is None:
            raise InvalidToken("The account changed meanwhile; please try again.")
        return updated

    def _new_credential(
        self, user: Any, kind: CredentialKind, now: datetime, **fields: Any
    ) -> tuple[str, Credential]:
        """A fresh secret of ``kind`` and its record, bound to the user's current stamp."""
        token, secret_hash = self.secrets.new(kind)
        credential = Credential(
            id=secrets.token_urlsafe(12),
            user_id=str(user.id),
            kind=kind,
            secret_hash=secret_hash,
            stamp=user.security_stamp,
            created_at=now,
            **fields,
        )
        return token, credential

    def _live_credentials(self, user: Any, kind: CredentialKind) -> list[Credential]:
        now = self.clock.now()
        return [
            c
            for c in self.store.list_credentials(str(user.id), kind)
            if _rules.credential_alive(c, user, now, self.settings)
        ]

    def _forget_credentials(self, user: Any) -> None:
        """Delete the records of credentials a stamp rotation already killed.

        The rotation is what ends them (their stamp no longer matches, in the same atomic
        update as the change itself: FT-03); this is clean-up, so a failure is logged.
        """
        try:
            self.store.delete_credentials(str(user.id), _ALL_KINDS)
        except StoreUnavailable:
            logger.warning("doorward: could not delete dead credentials of user %s", user.id)

    def _after_stamp_rotation(self, user: Any, identity: Identity) -> None:
        """Delete the old credentials, or re-bind the other ones when sessions are kept."""
        user_id = str(user.id)
        if self.settings.end_sessions_on_change:
            self._forget_credentials(user)
            return
        for kind in _ALL_KINDS:
            for credential in self.store.list_credentials(user_id, kind):
                if credential.id == identity.credential.id:
                    continue
                self.store.delete_credential(credential.id, user_id)
                self.store.create_credential(
                    attrs.evolve(credential, stamp=user.security_stamp)
                )
        self.store.delete_credential(identity.credential.id, user_id)

    def _mail(self, kind: str, to: str, *, link: str, strict: bool = False) -> None:
        """Render and send; failures are logged and swallowed unless ``strict`` (FT-02).

        Each address gets at most ``rate_limits["mail_per_address"]`` mails of one kind; the
        surplus is dropped silently so the caller's answer stays neutral (RL-05).
        """
        limit = self.settings.rate_limits.get("mail_per_address")
        if limit is not None:
            key = f"mail:{kind}:{to.casefold()}"
            if self.limiter.hit(key, limit, self.clock.now()) is not None:
                self.events.emit("rate_limited", action=f"mail:{kind}")
                return
        mail = render_mail(
            kind,
            to=to,
            context={"link": link, "email": to, "site_name": self.settings.display_name},
            templates=self.templates,
        )
        try:
            self.mailer.send(mail)
        except Exception as exc:  # noqa: BLE001 (any mailer fault is logged, FT-02)
            self.events.emit("mail_failed", kind=kind, error=type(exc).__name__)
            if strict:
                raise MailerUnavailable from None
