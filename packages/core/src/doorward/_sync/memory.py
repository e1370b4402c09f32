# Generated from packages/core/src/doorward/_async/memory.py by scripts/unasync.py. Do not edit: edit the source.
"""An in-memory user store: the reference implementation of ``UserStore``.

Use it in tests, demos and single-process tools; read it as the model when you write a
store of your own. Every state change happens under one ``threading.Lock``, so each
method is one atomic step for every thread and every task (nothing in it blocks, so the
async face takes the lock directly). A store backed by a database gets the same
guarantees from the database instead of a lock:

``create_user``
    The email index is checked and written in the same critical section. A database
    store relies on a unique index on ``normalized_email`` and maps its violation to
    ``EmailTaken``; it never reads first to decide.
``update_user``
    Only the named fields are written (``UPDATE ... SET <named columns>``, ``$set``),
    never the whole object the caller holds, which may be stale. The new object is
    built aside and swapped in, so a failure leaves the old one intact.
``compare_and_set_stamp``
    The stamp test and the write are one step (``UPDATE ... WHERE id = ? AND
    security_stamp = ?`` and a row count, ``find_one_and_update`` with the stamp in the
    filter).
``increment_failed_logins`` and ``record_login``
    Computed from the stored values, not from the caller's copy (``SET n = n + 1``,
    ``$inc``; ``record_login`` moves ``current_*`` to ``last_*`` in the same statement).
``delete_credential``
    Only the caller that removed the record gets ``True`` (a database store checks the
    deleted row count, or ``find_one_and_delete``).

Choices of this store that the contract leaves open:

- Users are built by ``user_factory(id=..., **NewUser.as_fields())``; the default is
  ``MemoryUser.from_fields`` (application fields end up in ``MemoryUser.extra``). Ids are
  ``uuid4().hex`` strings. The factory's class must allow ``copy.copy`` and ``setattr``.
- Every user returned is a deep copy: changing it changes nothing stored.
- Mistakes of the caller raise ``ValueError``: a naive datetime, a change of ``id`` or
  of a field that is not in ``USER_FIELDS``, ``compare_and_set_stamp`` without a new
  ``security_stamp``, a duplicate credential id or ``(kind, secret_hash)``.
- ``update_user``, ``increment_failed_logins``, ``record_login`` and
  ``add_user_role`` raise ``NotFound`` for a user that is no longer stored, and
  ``create_credential`` for a ``user_id`` that is not stored;
  ``compare_and_set_stamp`` returns ``None`` then, and ``touch_credential`` of a
  missing credential does nothing.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from doorward._sync.app_clients import RefreshTokens
from doorward._sync.memory_factors import MemoryFactors, require_aware
from doorward._sync.memory_outbox import MemoryOutbox
from doorward._sync.memory_signin import MemorySignIn
from doorward._sync.oauth import SocialIdentities
from doorward._sync.passkeys import PasskeyStore
from doorward._sync.passwordless import SignInCodes
from doorward._sync.protocols import (
    Authenticators,
    UserStore,
)
from doorward._memory_user import MemoryUser
from doorward.exceptions import EmailTaken, NotFound
from doorward.fields import read_field
from doorward.records import (
    USER_FIELDS,
    Authenticator,
    Credential,
    CredentialKind,
    NewUser,
    OutboxMessage,
    RefreshToken,
    Role,
    SignInCode,
    SocialIdentity,
)

__all__ = ["MemoryStore"]

_WRITABLE = frozenset(USER_FIELDS) - {"id"}


def _check_changes(changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - _WRITABLE
    if unknown:
        raise ValueError(f"not writable through the store: {sorted(unknown)}")
    require_aware(*changes.values())


class MemoryStore(MemoryFactors, MemorySignIn, MemoryOutbox):
    """Users, roles and credentials in dictionaries, safe to share between threads and tasks.

    ``user_factory`` builds the stored user objects (see the module docstring).
    """

    def __init__(self, *, user_factory: Callable[..., Any] = MemoryUser.from_fields) -> None:
        self._user_factory = user_factory
        self._lock = threading.Lock()
        self._users: dict[str, Any] = {}
        self._user_ids_by_email: dict[str, str] = {}
        self._roles: dict[str, Role] = {}
        self._user_roles: dict[str, set[str]] = {}
        self._credentials: dict[str, Credential] = {}
        self._credential_ids: dict[tuple[str, str], str] = {}
        self._authenticators: dict[str, Authenticator] = {}
        self._identities: dict[tuple[str, str], SocialIdentity] = {}
        self._codes: dict[str, SignInCode] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._outbox: dict[str, OutboxMessage] = {}

    # -- helpers (call with the lock held) ----------------------------------------------

    def _stored(self, user: Any) -> tuple[str, Any]:
        user_id = str(user.id)
        stored = self._users.get(user_id)
        if stored is None:
            raise NotFound("no such user")
        return user_id, stored

    def _apply(self, user_id: str, stored: Any, changes: Mapping[str, Any]) -> Any:
        """Write ``changes`` to a copy of ``stored`` and swap it in; return another copy."""
        old_email = stored.normalized_email
        new_email = changes.get("normalized_email", old_email)
        if self._user_ids_by_email.get(new_email, user_id) != user_id:
            raise EmailTaken
        updated = copy.copy(stored)
        for name, value in changes.items():
            setattr(updated, name, value)
        self._users[user_id] = updated
        if new_email != old_email:
            del self._user_ids_by_email[old_email]
            self._user_ids_by_email[new_email] = user_id
        return copy.deepcopy(updated)

    def _drop_credential(self, credential: Credential) -> None:
        del self._credentials[credential.id]
        del self._credential_ids[credential.kind, credential.secret_hash]

    # -- users --------------------------------------------------------------------------

    def create_user(self, new: NewUser) -> Any:
        """Insert the user; ``EmailTaken`` if the normalised email is in use."""
        fields = new.as_fields()
        require_aware(*fields.values())
        with self._lock:
            if new.normalized_email in self._user_ids_by_email:
                raise EmailTaken
            user_id = uuid.uuid4().hex
            user = self._user_factory(id=user_id, **fields)
            self._users[user_id] = user
            self._user_ids_by_email[new.normalized_email] = user_id
            return copy.deepcopy(user)

    def get_user(self, user_id: str) -> Any | None:
        """The user with this id, or ``None``."""
        with self._lock:
            user = self._users.get(user_id)
            return None if user is None else copy.deepcopy(user)

    def get_user_by_email(self, normalized_email: str) -> Any | None:
        """The user with exactly this normalised email, or ``None``."""
        with self._lock:
            user_id = self._user_ids_by_email.get(normalized_email)
            return None if user_id is None else copy.deepcopy(self._users[user_id])

    def get_user_by_username(self, field: str, username: str) -> Any | None:
        """The user whose application field ``field`` equals ``username`` exactly."""
        if not field.isidentifier() or field in USER_FIELDS:
            raise ValueError(f"not a username field: {field!r}")
        with self._lock:
            for stored in self._users.values():
                if read_field(stored, field) == username:
                    return copy.deepcopy(stored)
        return None

    def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Write only the named fields and return the updated user."""
        _check_changes(changes)
        with self._lock:
            user_id, stored = self._stored(user)
            return self._apply(user_id, stored, changes)

    def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Write application fields: into ``extra`` of a ``MemoryUser``, else as attributes."""
        reserved = sorted(set(changes) & {*USER_FIELDS, "extra"})
        if reserved:
            raise ValueError(f"not application fields: {reserved}")
        require_aware(*changes.values())
        with self._lock:
            user_id, stored = self._stored(user)
            updated = copy.copy(stored)
            if isinstance(updated, MemoryUser):
                updated.extra = {**updated.extra, **changes}
            else:
                for name, value in changes.items():
                    if not hasattr(updated, name):
                        raise ValueError(f"the user model has no field {name!r}")
                    setattr(updated, name, value)
            self._users[user_id] = updated
            return copy.deepcopy(updated)

    def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        """Apply ``changes`` if the stored stamp is still ``expected_stamp``, else ``None``."""
        _check_changes(changes)
        if "security_stamp" not in changes:
            raise ValueError("compare_and_set_stamp needs a new security_stamp")
        with self._lock:
            stored = self._users.get(str(user.id))
            if stored is None or stored.security_stamp != expected_stamp:
                return None
            return self._apply(str(user.id), stored, changes)

    def delete_user(self, user: Any) -> None:
        """Delete the user with their role links and credentials."""
        user_id = str(user.id)
        with self._lock:
            stored = self._users.pop(user_id, None)
            if stored is None:
                return
            del self._user_ids_by_email[stored.normalized_email]
            self._user_roles.pop(user_id, None)
            for credential in list(self._credentials.values()):
                if credential.user_id == user_id:
                    self._drop_credential(credential)
            for authenticator in list(self._authenticators.values()):
                if authenticator.user_id == user_id:
                    del self._authenticators[authenticator.id]
            for key, identity in list(self._identities.items()):
                if identity.user_id == user_id:
                    del self._identities[key]
            self._drop_sign_in(user_id)

    def increment_failed_logins(
        self,
        user: Any,
        at: datetime,
        *,
        keep_time: bool = False,
        restart_cutoff: datetime | None = None,
    ) -> int:
        """Add one to the stored count (or restart it after a lock) and return it."""
        require_aware(at, restart_cutoff)
        with self._lock:
            user_id, stored = self._stored(user)
            last = stored.last_failed_login_at
            restart = restart_cutoff is not None and last is not None and last <= restart_cutoff
            count: int = 1 if restart else stored.failed_logins + 1
            changes: dict[str, Any] = {"failed_logins": count}
            if not keep_time or last is None:
                changes["last_failed_login_at"] = at
            self._apply(user_id, stored, changes)
            return count

    def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        """Move ``current_*`` to ``last_*``, count the login, clear the failures."""
        require_aware(at)
        with self._lock:
            user_id, stored = self._stored(user)
            changes = {
                "last_login_at": stored.current_login_at,
                "last_login_ip": stored.current_login_ip,
                "current_login_at": at,
                "current_login_ip": ip,
                "login_count": stored.login_count + 1,
                "failed_logins": 0,
                "last_failed_login_at": None,
            }
            return self._apply(user_id, stored, changes)

    # -- roles --------------------------------------------------------------------------

    def save_role(self, role: Role) -> Role:
        """Create or replace the role."""
        with self._lock:
            self._roles[role.name] = role
            return role

    def get_role(self, name: str) -> Role | None:
        """The role with this name, or ``None``."""
        with self._lock:
            return self._roles.get(name)

    def list_roles(self) -> list[Role]:
        """All roles, sorted by name."""
        with self._lock:
            return sorted(self._roles.values(), key=lambda role: role.name)

    def delete_role(self, name: str) -> bool:
        """Delete the role and every link to it."""
        with self._lock:
            if self._roles.pop(name, None) is None:
                return False
            for names in self._user_roles.values():
                names.discard(name)
            return True

    def add_user_role(self, user: Any, name: str) -> bool:
        """Link the user to the role; ``False`` if already linked."""
        with self._lock:
            if name not in self._roles:
                raise NotFound("no such role")
            user_id, _ = self._stored(user)
            names = self._user_roles.setdefault(user_id, set())
            if name in names:
                return False
            names.add(name)
            return True

    def remove_user_role(self, user: Any, name: str) -> bool:
        """Unlink the user from the role; ``False`` if not linked."""
        with self._lock:
            names = self._user_roles.get(str(user.id), set())
            if name not in names:
                return False
            names.remove(name)
            return True

    def get_user_roles(self, user: Any) -> frozenset[str]:
        """The names of the user's roles."""
        with self._lock:
            return frozenset(self._user_roles.get(str(user.id), ()))

    def get_user_permissions(self, user: Any) -> frozenset[str]:
        """The union of the permissions of the user's roles."""
        with self._lock:
            names = self._user_roles.get(str(user.id), ())
            return frozenset().union(*(self._roles[name].permissions for name in names))

    # -- credentials --------------------------------------------------------------------

    def create_credential(self, credential: Credential) -> None:
        """Store the credential; ids and ``(kind, secret_hash)`` are unique."""
        require_aware(*attrs.astuple(credential))
        with self._lock:
            key = (credential.kind, credential.secret_hash)
            if credential.id in self._credentials or key in self._credential_ids:
                raise ValueError("duplicate credential")
            if credential.user_id not in self._users:
                raise NotFound("no such user")
            self._credentials[credential.id] = credential
            self._credential_ids[key] = credential.id

    def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        """The credential with this kind and hash and a copy of its user, or ``None``."""
        with self._lock:
            credential_id = self._credential_ids.get((kind, secret_hash))
            if credential_id is None:
                return None
            credential = self._credentials[credential_id]
            return credential, copy.deepcopy(self._users[credential.user_id])

    def get_credential_with_roles(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        """``get_credential`` with the user's roles and permissions, under one lock."""
        with self._lock:
            credential_id = self._credential_ids.get((kind, secret_hash))
            if credential_id is None:
                return None
            credential = self._credentials[credential_id]
            names = frozenset(self._user_roles.get(credential.user_id, ()))
            permissions = frozenset().union(*(self._roles[name].permissions for name in names))
            user = copy.deepcopy(self._users[credential.user_id])
            return credential, user, names, permissions

    def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        """The user's credentials of this kind, oldest first."""
        with self._lock:
            found = [
                credential
                for credential in self._credentials.values()
                if credential.user_id == user_id and credential.kind == kind
            ]
        return sorted(found, key=lambda credential: credential.created_at)

    def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        """Set the times of use of one credential (nothing if it is gone)."""
        require_aware(last_used_at, authenticated_at)
        with self._lock:
            credential = self._credentials.get(credential_id)
            if credential is None:
                return
            if authenticated_at is None:
                authenticated_at = credential.authenticated_at
            self._credentials[credential_id] = attrs.evolve(
                credential, last_used_at=last_used_at, authenticated_at=authenticated_at
            )

    def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        """Delete one credential; ``True`` only for the call that removed it."""
        with self._lock:
            credential = self._credentials.get(credential_id)
            if credential is None or (user_id is not None and user_id != credential.user_id):
                return False
            self._drop_credential(credential)
            return True

    def rebind_credentials(
        self, user_id: str, old_stamp: str, new_stamp: str, *, except_id: str | None = None
    ) -> int:
        """Move the user's credentials of ``old_stamp`` to ``new_stamp``, except one."""
        with self._lock:
            moved = [
                credential
                for credential in self._credentials.values()
                if credential.user_id == user_id
                and credential.stamp == old_stamp
                and credential.id != except_id
            ]
            for credential in moved:
                self._credentials[credential.id] = attrs.evolve(credential, stamp=new_stamp)
            return len(moved)

    def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's credentials of these kinds except one; return how many."""
        wanted = frozenset(kinds)
        with self._lock:
            doomed = [
                credential
                for credential in self._credentials.values()
                if credential.user_id == user_id
                and credential.kind in wanted
                and credential.id != except_id
            ]
            for credential in doomed:
                self._drop_credential(credential)
            return len(doomed)

    def delete_expired_credentials(self, now: datetime) -> int:
        """Delete every credential that expired before ``now``; return how many."""
        require_aware(now)
        with self._lock:
            doomed = [
                credential
                for credential in self._credentials.values()
                if credential.expires_at is not None and credential.expires_at < now
            ]
            for credential in doomed:
                self._drop_credential(credential)
            return len(doomed)


def _is_a_store(store: MemoryStore) -> UserStore:
    """Never called: makes mypy prove that the class implements the protocol."""
    return store


def _has_authenticators(store: MemoryStore) -> Authenticators:
    """Never called: makes mypy prove that the class has the authenticators capability."""
    return store


def _has_social_identities(store: MemoryStore) -> SocialIdentities:
    """Never called: makes mypy prove that the class implements the capability."""
    return store


def _has_sign_in_secrets(store: MemoryStore) -> tuple[SignInCodes, RefreshTokens]:
    """Never called: makes mypy prove that the class has both capabilities."""
    return store, store


def _has_passkeys(store: MemoryStore) -> PasskeyStore:
    """Never called: makes mypy prove that the class has the passkeys capability."""
    return store
