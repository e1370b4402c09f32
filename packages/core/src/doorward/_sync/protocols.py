# Generated from packages/core/src/doorward/_async/protocols.py by scripts/unasync.py. Do not edit: edit the source.
"""The protocols a store, a hasher and a mailer implement.

Written once with ``async def`` in ``doorward/_sync/``; the sync face in
``doorward/_sync/`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from doorward.mail import Mail
from doorward.records import (
    Authenticator,
    AuthenticatorKind,
    Credential,
    CredentialKind,
    NewUser,
    OutboxMessage,
    OutboxState,
    RefreshToken,
    Role,
    SignInCode,
    SocialIdentity,
)

__all__ = [
    "Authenticators",
    "Credentials",
    "CredentialsWithRoles",
    "MailOutbox",
    "Mailer",
    "PasskeyStore",
    "PasswordHasher",
    "Profiles",
    "RefreshTokens",
    "Roles",
    "SignInCodes",
    "SocialIdentities",
    "UserStore",
    "Usernames",
    "Users",
]


class Users(Protocol):
    """The users capability, the only one every store needs.

    Every method is one atomic operation: a store never leaves half a change behind
    (a failure raises and the old state is intact). Users are the application's own
    objects (see ``doorward.records.UserLike``); ids cross this boundary as ``str``.
    Errors of the database driver are raised as ``doorward.exceptions.StoreUnavailable``
    with no driver message; a duplicate normalised email as ``EmailTaken``.

    ``doorward.testing.UsersContract`` checks every rule below.
    """

    def create_user(self, new: NewUser) -> Any:
        """Insert a user with ``new.as_fields()`` and return the application's object.

        Raise ``EmailTaken`` when another user has the same ``normalized_email``. The rule
        must hold under concurrency: it is enforced by a unique index (or equivalent), not
        by reading first. Nothing is written when it is raised.
        """

    def get_user(self, user_id: str) -> Any | None:
        """The user with this id, or ``None`` (also for an id of the wrong shape)."""

    def get_user_by_email(self, normalized_email: str) -> Any | None:
        """The user whose ``normalized_email`` equals the argument exactly, or ``None``."""

    def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Set the given documented fields and return the user with the new values.

        Only the named fields are written; the application's other fields are untouched.
        Raise ``EmailTaken`` if ``normalized_email`` would collide, writing nothing.
        """

    def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        """Apply ``changes`` only if the stored ``security_stamp`` still equals ``expected_stamp``.

        ``changes`` always contains a new ``security_stamp``. This is one conditional update
        (``UPDATE ... WHERE id = ? AND security_stamp = ?``); of any number of concurrent
        calls with the same expected stamp exactly one succeeds. Return the updated user,
        or ``None`` when the stamp had already moved (nothing is written then). May raise
        ``EmailTaken`` like ``update_user``.
        """

    def delete_user(self, user: Any) -> None:
        """Delete the user, their role links and all their credentials."""

    def increment_failed_logins(
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

    def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        """Record a successful login in one atomic update and return the updated user.

        ``last_login_at``/``last_login_ip`` take the previous ``current_*`` values,
        ``current_login_at = at``, ``current_login_ip = ip``, ``login_count += 1``,
        ``failed_logins = 0`` and ``last_failed_login_at = None``.
        """


class Usernames(Protocol):
    """The usernames capability: finding a user by a unique username attribute.

    ``doorward.testing.UsernamesContract`` checks every rule below.
    """

    def get_user_by_username(self, field: str, username: str) -> Any | None:
        """The user whose attribute ``field`` equals ``username`` exactly, or ``None``.

        ``username`` is already normalised; the store's unique index on ``field`` keeps it
        unique. One indexed lookup; an unknown ``field`` raises ``ValueError``.
        """


class Profiles(Protocol):
    """The profiles capability: writing the application's own fields of a user.

    For features (and apps) that keep fields of their own on the user model, such as the
    version of the terms a user accepted. doorward's fields never change this way.
    ``doorward.testing.ProfilesContract`` checks every rule below.
    """

    def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Set application fields (names the user model has, none of ``USER_FIELDS``).

        Return the user with the new values. A name of ``USER_FIELDS``, or one the model
        does not have, raises ``ValueError`` and writes nothing. One atomic update.
        """


class Roles(Protocol):
    """The roles capability: named roles with permissions, and users' memberships.

    ``doorward.testing.RolesContract`` checks every rule below.
    """

    def save_role(self, role: Role) -> Role:
        """Create the role, or replace the description and permissions of an existing one."""

    def list_roles(self) -> list[Role]:
        """All roles, sorted by name."""

    def delete_role(self, name: str) -> bool:
        """Delete the role and its links to users; ``False`` if there was no such role."""

    def add_user_role(self, user: Any, name: str) -> bool:
        """Give the user the role. ``False`` if they had it; ``NotFound`` if no such role."""

    def remove_user_role(self, user: Any, name: str) -> bool:
        """Take the role away; ``False`` if they did not have it."""

    def get_user_roles(self, user: Any) -> frozenset[str]:
        """The names of the user's roles."""

    def get_user_permissions(self, user: Any) -> frozenset[str]:
        """The union of the permissions of the user's roles."""


class Credentials(Protocol):
    """The credentials capability: sessions, remember-me tokens and API tokens, stored hashed.

    ``doorward.testing.CredentialsContract`` checks every rule below.
    """

    def create_credential(self, credential: Credential) -> None:
        """Store the record. ``(kind, secret_hash)`` and ``id`` are unique."""

    def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        """The credential of this kind and hash together with its user, or ``None``.

        This is on every authenticated request: one indexed lookup (a join where the
        database has them). Expiry and stamp are checked by the caller, not here.
        """

    def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        """The user's credentials of one kind, oldest first."""

    def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        """Set ``last_used_at`` (and ``authenticated_at`` when given) of one credential."""

    def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        """Delete one credential (only if it belongs to ``user_id`` when that is given).

        Return ``True`` only to the caller whose call removed it: of concurrent calls for
        the same id exactly one gets ``True`` (single-use rotation relies on it).
        """

    def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's credentials of these kinds, except one; return how many."""

    def rebind_credentials(
        self, user_id: str, old_stamp: str, new_stamp: str, *, except_id: str | None = None
    ) -> int:
        """Move the user's credentials issued under ``old_stamp`` to ``new_stamp``, except one.

        One atomic update (``UPDATE ... SET stamp = :new WHERE user_id = ? AND stamp = :old
        AND id <> :except``); credentials of any other stamp stay dead. Return how many moved.
        Used after a password change that keeps the other sessions (``end_sessions_on_change``
        off).
        """

    def delete_expired_credentials(self, now: datetime) -> int:
        """Delete every credential whose ``expires_at`` is before ``now``; return how many."""


class CredentialsWithRoles(Protocol):
    """Optional: the per-request lookup with the user's roles and permissions, in one trip.

    A store that has it lets an adapter that needs the roles on every request (Starlette's
    ``role_scopes``, on by default) identify a request with one store call instead of
    three. Without it (the method absent or ``None``) the adapter falls back to
    ``get_credential``, ``get_user_roles`` and ``get_user_permissions``: the answers must be
    the same as theirs. ``doorward.testing.CredentialsContract`` checks it when present.
    """

    def get_credential_with_roles(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        """``get_credential``'s answer with the user's role names and permissions, or ``None``.

        One round trip (a join with the roles; a ``$lookup``) and, on a threaded store, one
        thread hop. Expiry and stamp are checked by the caller, not here.
        """


class Authenticators(Protocol):
    """The authenticators capability: users' second factors (TOTP, recovery codes, passkeys).

    Secrets arrive already encrypted or hashed: a store keeps ``Authenticator.secret`` as
    given. ``delete_user`` deletes the user's authenticators too.
    ``doorward.testing.AuthenticatorsContract`` checks every rule below.
    """

    def create_authenticator(self, authenticator: Authenticator) -> None:
        """Store the record; ``id`` is unique, and so is ``(user_id, kind, secret)``."""

    def list_authenticators(
        self, user_id: str, kind: AuthenticatorKind | None = None
    ) -> list[Authenticator]:
        """The user's authenticators (of one kind when given), oldest first."""

    def confirm_authenticator(self, authenticator_id: str, at: datetime) -> bool:
        """Set ``confirmed_at = at`` if it is still unset; ``True`` only to the call that did."""

    def delete_authenticators(
        self,
        user_id: str,
        kinds: Iterable[AuthenticatorKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's authenticators of these kinds, except one; return how many."""

    def use_recovery_code(self, user_id: str, secret: str) -> bool:
        """Delete the user's ``recovery`` authenticator with this ``secret`` (its hash).

        ``True`` only to the call whose delete removed it: of concurrent uses of one code
        exactly one succeeds (MF-04); a deleted row count or ``find_one_and_delete``.
        """

    def accept_totp_step(self, authenticator_id: str, step: int, at: datetime) -> bool:
        """Record that a TOTP code of time ``step`` was accepted, once (MF-02).

        One conditional update (``UPDATE ... SET last_used_step = :step, last_used_at = :at
        WHERE id = ? AND (last_used_step IS NULL OR last_used_step < :step)``): ``True`` only
        to the one call that moved the step forward; a replay of the same or an older step,
        from any process, gets ``False``. Only a confirmed authenticator can move.
        """


class PasskeyStore(Protocol):
    """The passkeys capability: WebAuthn credentials, kept as ``passkey`` authenticators.

    A store with it has ``Authenticators`` too. A passkey's ``secret`` (the SHA-256
    hex of its credential ID) is unique among all users' passkeys: a second
    ``create_authenticator`` with it raises, writing nothing (MF-07: a credential ID
    belongs to one user), also under concurrency (a unique index, never read first).
    ``doorward.testing.AuthenticatorsContract`` checks every rule below.
    """

    def get_passkey(self, secret: str) -> tuple[Authenticator, Any] | None:
        """The passkey with this ``secret`` together with its user, or ``None`` (one
        indexed lookup: the passwordless sign-in starts from the credential ID alone)."""

    def use_passkey(
        self,
        authenticator_id: str,
        *,
        old_count: int,
        new_count: int,
        at: datetime,
        issued_at: datetime,
    ) -> bool:
        """Record one accepted assertion, once (MF-07).

        One conditional update (``UPDATE ... SET sign_count = :new, last_used_at = :at
        WHERE id = ? AND kind = 'passkey' AND sign_count = :old AND (last_used_at IS NULL
        OR last_used_at < :issued_at)``): ``True`` only to the one call that moved it. A
        parallel use of the same assertion, or any assertion of a challenge issued before
        the passkey's last use, gets ``False``.
        """

    def delete_passkey(self, authenticator_id: str, user_id: str) -> bool:
        """Delete one passkey of this user; ``True`` only to the call that removed it."""


class SocialIdentities(Protocol):
    """The social identities capability: provider accounts linked to users (OAuth, OIDC).

    ``doorward.testing.SocialIdentitiesContract`` checks every rule below.
    """

    def add_social_identity(self, identity: SocialIdentity) -> None:
        """Store the link. Raise ``IdentityTaken`` when ``(provider, subject)`` is linked
        already (to this user or another), writing nothing; ``NotFound`` when the user is
        not stored. The rule holds under concurrency (a unique index, never read first).
        """

    def get_social_identity(self, provider: str, subject: str) -> SocialIdentity | None:
        """The link of this provider account, or ``None``."""

    def list_social_identities(self, user_id: str) -> list[SocialIdentity]:
        """The user's links, oldest first."""

    def delete_social_identity(self, identity_id: str, user_id: str) -> bool:
        """Delete one link of this user; ``True`` only to the call that removed it."""


class SignInCodes(Protocol):
    """The sign-in codes capability: emailed one-time codes and links (PL-01, PL-02).

    ``delete_user`` deletes the user's code too.
    ``doorward.testing.SignInCodesContract`` checks every rule below.
    """

    def create_sign_in_code(self, code: SignInCode) -> None:
        """Store the code in place of the user's earlier ones (one per user, atomically).

        ``NotFound`` when the user is not stored.
        """

    def get_sign_in_code(self, user_id: str) -> SignInCode | None:
        """The user's code, expired or not, or ``None``."""

    def fail_sign_in_code(self, code_id: str) -> int:
        """Count one wrong try, atomically; the count after it (0 if the code is gone).

        One conditional update (``UPDATE ... SET attempts = attempts + 1 WHERE id = ?``):
        concurrent wrong tries each count.
        """

    def use_sign_in_code(self, code_id: str, max_attempts: int) -> bool:
        """Delete the code if fewer than ``max_attempts`` wrong tries were counted.

        ``True`` only to the call whose delete removed it (``DELETE ... WHERE id = ? AND
        attempts < :max``): of concurrent uses exactly one wins, and none after the limit.
        """

    def delete_sign_in_codes(self, user_id: str) -> int:
        """Delete the user's code(s); return how many."""


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


class MailOutbox(Protocol):
    """The outbox capability: mail kept in the store until a worker delivers it (DI-02).

    Any number of workers, in any number of processes, share one outbox; each message is
    held by at most one of them at a time (a lease), so each is delivered once while its
    worker lives, and again after its lease ends if the worker died mid-delivery. Every
    method is one atomic step of the database. Datetimes are aware UTC.

    Optional: ``transaction()``, a context manager in whose block every method of the
    store, ``enqueue_mail`` included, runs in one transaction, each method still atomic
    on its own (a savepoint); the flows then write a change and its mail together
    (``Context.change_and_mail``; ``docs/writing-a-store.md``).
    ``doorward.testing.MailOutboxContract`` checks every rule below, races included.
    """

    def enqueue_mail(self, message: OutboxMessage) -> None:
        """Store a new message as given (``state="pending"``); ``id`` is unique.

        A store with transactions writes it in the caller's transaction when it has one.
        """

    def claim_mail(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` pending messages whose ``next_attempt_at <= now`` to ``worker``.

        Oldest ``next_attempt_at`` first. Each claimed message gets ``lease_owner=worker``,
        ``lease_until = next_attempt_at = now + lease`` and ``attempts + 1``, and is returned
        as stored after that write. Atomic per message: of concurrent claimers each message
        goes to exactly one (``SELECT ... FOR UPDATE SKIP LOCKED`` then ``UPDATE``, or a
        conditional ``UPDATE ... WHERE state = 'pending' AND next_attempt_at <= :now`` per
        row with its row count, or ``find_one_and_update``).
        """

    def mark_sent(self, message_id: str, worker: str, at: datetime) -> bool:
        """``state="sent"``, ``sent_at=at``, lease cleared; only while ``worker`` holds the
        lease of a pending message. ``True`` only to the call that did it."""

    def mark_failed(
        self,
        message_id: str,
        worker: str,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record a failed attempt: ``last_error=error``, lease cleared, and
        ``next_attempt_at`` set (the message stays ``pending``) or, with ``None``,
        ``state="dead"``. Only while ``worker`` holds the lease of a pending message;
        ``True`` only to the call that did it."""

    def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages (of ``state`` when given), oldest ``created_at`` first."""

    def retry_mail(self, message_ids: Iterable[str] | None, now: datetime) -> int:
        """Make dead messages (these ids, or every dead one with ``None``) pending again:
        ``attempts=0``, ``next_attempt_at=now``, lease cleared. Returns how many; ids of
        messages that are not dead, or unknown, are skipped."""

    def purge_sent(self, before: datetime) -> int:
        """Delete sent messages with ``sent_at < before``; return how many."""


class UserStore(Users, Roles, Credentials, Protocol):
    """A store with the capabilities the built-in features use (users, roles, credentials).

    A store may implement fewer: each feature names the capabilities it needs, and
    ``Auth`` refuses to start a feature whose capability the store lacks, naming the
    missing methods. ``doorward.testing.StoreContract`` runs all three suites.
    """


class PasswordHasher(Protocol):
    """Turns passwords into stored hashes and checks them (default: ``Argon2Hasher``)."""

    def hash(self, password: str) -> str:
        """A new salted hash of the password."""

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether the password matches; with ``None`` (no password), do equal work, return False.

        Implementations run exactly one hash computation per call on every path (LE-02).
        """

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the stored hash should be replaced by one with the current parameters."""


class Mailer(Protocol):
    """Delivers rendered mail. Raise ``MailerUnavailable`` when it cannot.

    A mailer may set the class attribute ``accepts_decoys = True``: it then also gets the
    decoy mails of the neutral flows (``mail.decoy``, for addresses without an account),
    which it must take through the same steps as far as it safely can and never deliver
    (the queued mailer enqueues them and its thread drops them). Mailers without it never
    see a decoy (LE-07).
    """

    def send(self, mail: Mail) -> None:
        """Send one message to ``mail.to`` (drop it if ``mail.decoy``)."""
