"""The protocols a store, a hasher and a mailer implement: the store capabilities the
built-in flows share (users, usernames, profiles, roles, credentials, and the
authenticators both second factors use), the hasher and the mailer.

A capability only one feature needs lives in that feature's module, beside the flows that
call it (``AsyncPasskeyStore`` in ``passkeys``, ``AsyncSocialIdentities`` in ``oauth``,
``AsyncSignInCodes`` in ``passwordless``, ``AsyncRefreshTokens`` in ``app_clients``,
``AsyncMailOutbox`` in ``outbox``); ``doorward`` exports them all.

Written once with ``async def`` in ``doorward/_async/``; the sync face in
``doorward/_sync/`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from doorward.mail import Mail
from doorward.records import (
    Authenticator,
    AuthenticatorKind,
    Credential,
    CredentialKind,
    NewUser,
    Role,
)

__all__ = [
    "AsyncAuthenticators",
    "AsyncCredentials",
    "AsyncCredentialsWithRoles",
    "AsyncMailer",
    "AsyncPasswordHasher",
    "AsyncProfiles",
    "AsyncRoles",
    "AsyncUserStore",
    "AsyncUsernames",
    "AsyncUsers",
]


class AsyncUsers(Protocol):
    """The users capability, the only one every store needs.

    Every method is one atomic operation: a store never leaves half a change behind
    (a failure raises and the old state is intact). Users are the application's own
    objects (see ``doorward.records.UserLike``); ids cross this boundary as ``str``.
    Errors of the database driver are raised as ``doorward.exceptions.StoreUnavailable``
    with no driver message; a duplicate normalised email as ``EmailTaken``.

    ``doorward.testing.AsyncUsersContract`` checks every rule below.
    """

    async def create_user(self, new: NewUser) -> Any:
        """Insert a user with ``new.as_fields()`` and return the application's object.

        Raise ``EmailTaken`` when another user has the same ``normalized_email``. The rule
        must hold under concurrency: it is enforced by a unique index (or equivalent), not
        by reading first. Nothing is written when it is raised.
        """

    async def get_user(self, user_id: str) -> Any | None:
        """The user with this id, or ``None`` (also for an id of the wrong shape)."""

    async def get_user_by_email(self, normalized_email: str) -> Any | None:
        """The user whose ``normalized_email`` equals the argument exactly, or ``None``."""

    async def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Set the given documented fields and return the user with the new values.

        Only the named fields are written; the application's other fields are untouched.
        Raise ``EmailTaken`` if ``normalized_email`` would collide, writing nothing.
        """

    async def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        """Apply ``changes`` only if the stored ``security_stamp`` still equals ``expected_stamp``.

        ``changes`` always contains a new ``security_stamp``. This is one conditional update
        (``UPDATE ... WHERE id = ? AND security_stamp = ?``); of any number of concurrent
        calls with the same expected stamp exactly one succeeds. Return the updated user,
        or ``None`` when the stamp had already moved (nothing is written then). May raise
        ``EmailTaken`` like ``update_user``.
        """

    async def delete_user(self, user: Any) -> None:
        """Delete the user, their role links and all their credentials."""

    async def increment_failed_logins(
        self,
        user: Any,
        at: datetime,
        *,
        keep_time: bool = False,
        restart_cutoff: datetime | None = None,
    ) -> int:
        """Atomically add one to ``failed_logins``, set ``last_failed_login_at = at``.

        Return the new count. Concurrent calls from any number of processes add up
        exactly (``SET n = n + 1``, ``$inc``), never read-then-write.

        Two variants keep a lock from outliving its ``lockout_duration`` (RL-07):

        - ``keep_time=True`` (an attempt refused by a running lock or delay): add one but
          leave ``last_failed_login_at`` as stored (set it to ``at`` only when it is
          ``None``), so guesses during a lock never move the time it counts from.
        - ``restart_cutoff=t`` (a checked failure after a lock): when the stored
          ``last_failed_login_at`` is at or before ``t`` the count restarts, becoming 1
          instead of ``n + 1``. The choice is made in the same atomic update from the
          stored values (``SET n = CASE WHEN last <= :t THEN 1 ELSE n + 1 END``, an
          update pipeline with ``$cond``), so of concurrent calls after an expired lock
          one restarts the count and the others add to it.
        """

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        """Record a successful login in one atomic update and return the updated user.

        ``last_login_at``/``last_login_ip`` take the previous ``current_*`` values,
        ``current_login_at = at``, ``current_login_ip = ip``, ``login_count += 1``,
        ``failed_logins = 0`` and ``last_failed_login_at = None``.
        """


class AsyncUsernames(Protocol):
    """The usernames capability: finding a user by a unique username attribute.

    ``doorward.testing.AsyncUsernamesContract`` checks every rule below.
    """

    async def get_user_by_username(self, field: str, username: str) -> Any | None:
        """The user whose attribute ``field`` equals ``username`` exactly, or ``None``.

        ``username`` is already normalised; the store's unique index on ``field`` keeps it
        unique. One indexed lookup; an unknown ``field`` raises ``ValueError``.
        """


class AsyncProfiles(Protocol):
    """The profiles capability: writing the application's own fields of a user.

    For features (and apps) that keep fields of their own on the user model, such as the
    version of the terms a user accepted. doorward's fields never change this way.
    ``doorward.testing.AsyncProfilesContract`` checks every rule below.
    """

    async def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Set application fields (names the user model has, none of ``USER_FIELDS``).

        Return the user with the new values. A name of ``USER_FIELDS``, or one the model
        does not have, raises ``ValueError`` and writes nothing. One atomic update.
        """


class AsyncRoles(Protocol):
    """The roles capability: named roles with permissions, and users' memberships.

    ``doorward.testing.AsyncRolesContract`` checks every rule below.
    """

    async def save_role(self, role: Role) -> Role:
        """Create the role, or replace the description and permissions of an existing one."""

    async def list_roles(self) -> list[Role]:
        """All roles, sorted by name."""

    async def delete_role(self, name: str) -> bool:
        """Delete the role and its links to users; ``False`` if there was no such role."""

    async def add_user_role(self, user: Any, name: str) -> bool:
        """Give the user the role. ``False`` if they had it; ``NotFound`` if no such role."""

    async def remove_user_role(self, user: Any, name: str) -> bool:
        """Take the role away; ``False`` if they did not have it."""

    async def get_user_roles(self, user: Any) -> frozenset[str]:
        """The names of the user's roles."""

    async def get_user_permissions(self, user: Any) -> frozenset[str]:
        """The union of the permissions of the user's roles."""


class AsyncCredentials(Protocol):
    """The credentials capability: sessions, remember-me tokens and API tokens, stored hashed.

    ``doorward.testing.AsyncCredentialsContract`` checks every rule below.
    """

    async def create_credential(self, credential: Credential) -> None:
        """Store the record. ``(kind, secret_hash)`` and ``id`` are unique."""

    async def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        """The credential of this kind and hash together with its user, or ``None``.

        This is on every authenticated request: one indexed lookup (a join where the
        database has them). Expiry and stamp are checked by the caller, not here.
        """

    async def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        """The user's credentials of one kind, oldest first."""

    async def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        """Set ``last_used_at`` (and ``authenticated_at`` when given) of one credential."""

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        """Delete one credential (only if it belongs to ``user_id`` when that is given).

        Return ``True`` only to the caller whose call removed it: of concurrent calls for
        the same id exactly one gets ``True`` (single-use rotation relies on it).
        """

    async def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's credentials of these kinds, except one; return how many."""

    async def rebind_credentials(
        self, user_id: str, old_stamp: str, new_stamp: str, *, except_id: str | None = None
    ) -> int:
        """Move the user's credentials issued under ``old_stamp`` to ``new_stamp``, except one.

        One atomic update (``UPDATE ... SET stamp = :new WHERE user_id = ? AND stamp = :old
        AND id <> :except``); credentials of any other stamp stay dead. Return how many moved.
        Used after a password change that keeps the other sessions (``end_sessions_on_change``
        off).
        """

    async def delete_expired_credentials(self, now: datetime) -> int:
        """Delete every credential whose ``expires_at`` is before ``now``; return how many."""


class AsyncCredentialsWithRoles(Protocol):
    """Optional: the per-request lookup with the user's roles and permissions, in one trip.

    A store that has it lets an adapter that needs the roles on every request (Starlette's
    ``role_scopes``, on by default) identify a request with one store call instead of
    three. Without it (the method absent or ``None``) the adapter falls back to
    ``get_credential``, ``get_user_roles`` and ``get_user_permissions``: the answers must be
    the same as theirs. ``doorward.testing.AsyncCredentialsContract`` checks it when present.
    """

    async def get_credential_with_roles(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        """``get_credential``'s answer with the user's role names and permissions, or ``None``.

        One round trip (a join with the roles; a ``$lookup``) and, on a threaded store, one
        thread hop. Expiry and stamp are checked by the caller, not here.
        """


class AsyncAuthenticators(Protocol):
    """The authenticators capability: users' second factors (TOTP, recovery codes, passkeys).

    Secrets arrive already encrypted or hashed: a store keeps ``Authenticator.secret`` as
    given. ``delete_user`` deletes the user's authenticators too.
    ``doorward.testing.AsyncAuthenticatorsContract`` checks every rule below.
    """

    async def create_authenticator(self, authenticator: Authenticator) -> None:
        """Store the record; ``id`` is unique, and so is ``(user_id, kind, secret)``."""

    async def list_authenticators(
        self, user_id: str, kind: AuthenticatorKind | None = None
    ) -> list[Authenticator]:
        """The user's authenticators (of one kind when given), oldest first."""

    async def confirm_authenticator(self, authenticator_id: str, at: datetime) -> bool:
        """Set ``confirmed_at = at`` if it is still unset; ``True`` only to the call that did."""

    async def delete_authenticators(
        self,
        user_id: str,
        kinds: Iterable[AuthenticatorKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's authenticators of these kinds, except one; return how many."""

    async def use_recovery_code(self, user_id: str, secret: str) -> bool:
        """Delete the user's ``recovery`` authenticator with this ``secret`` (its hash).

        ``True`` only to the call whose delete removed it: of concurrent uses of one code
        exactly one succeeds (MF-04); a deleted row count or ``find_one_and_delete``.
        """

    async def accept_totp_step(self, authenticator_id: str, step: int, at: datetime) -> bool:
        """Record that a TOTP code of time ``step`` was accepted, once (MF-02).

        One conditional update (``UPDATE ... SET last_used_step = :step, last_used_at = :at
        WHERE id = ? AND (last_used_step IS NULL OR last_used_step < :step)``): ``True`` only
        to the one call that moved the step forward; a replay of the same or an older step,
        from any process, gets ``False``. Only a confirmed authenticator can move.
        """


class AsyncUserStore(AsyncUsers, AsyncRoles, AsyncCredentials, Protocol):
    """A store with the capabilities the built-in features use (users, roles, credentials).

    A store may implement fewer: each feature names the capabilities it needs, and
    ``AsyncAuth`` refuses to start a feature whose capability the store lacks, naming the
    missing methods. ``doorward.testing.AsyncStoreContract`` runs all three suites.
    """


class AsyncPasswordHasher(Protocol):
    """Turns passwords into stored hashes and checks them (default: ``AsyncArgon2Hasher``)."""

    async def hash(self, password: str) -> str:
        """A new salted hash of the password."""

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether the password matches; with ``None`` (no password), do equal work, return False.

        Implementations run exactly one hash computation per call on every path (LE-02).
        """

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the stored hash should be replaced by one with the current parameters."""


class AsyncMailer(Protocol):
    """Delivers rendered mail. Raise ``MailerUnavailable`` when it cannot.

    A mailer may set the class attribute ``accepts_decoys = True``: it then also gets the
    decoy mails of the neutral flows (``mail.decoy``, for addresses without an account),
    which it must take through the same steps as far as it safely can and never deliver
    (the queued mailer enqueues them and its thread drops them). Mailers without it never
    see a decoy (LE-07).
    """

    async def send(self, mail: Mail) -> None:
        """Send one message to ``mail.to`` (drop it if ``mail.decoy``)."""
