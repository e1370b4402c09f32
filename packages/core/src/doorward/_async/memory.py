"""The reference in-memory store: the model for writing your own.

It keeps every rule of the store protocol the way a database store must, and the store
contract suite (``doorward.testing``) proves it:

* one lock guards all state, so each method is one atomic step (a database gets the
  same from a single statement or a transaction);
* ``create_user`` refuses a taken ``normalized_email`` inside that step (a database:
  a unique index, never a read before the insert);
* ``compare_and_set_stamp`` checks and writes in one step (``UPDATE ... WHERE
  security_stamp = ?``), ``increment_failed_logins`` adds in place (``SET n = n + 1``),
  ``delete_credential`` reports ``True`` only to the caller that removed the record;
* callers get copies, so nothing changes unless it goes through the store.

Memory never blocks for long, so the async face takes the lock directly. Data lives in
the process: use it for tests, demos and single-process tools.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from doorward.exceptions import EmailTaken, NotFound
from doorward.records import Credential, CredentialKind, NewUser, Role


@attrs.define
class MemoryUser:
    """The user record of the memory store; application fields go in ``extra``."""

    id: str
    email: str
    normalized_email: str
    password_hash: str | None
    active: bool
    confirmed_at: datetime | None
    security_stamp: str
    pending_email: str | None
    failed_logins: int
    last_failed_login_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    current_login_at: datetime | None
    last_login_ip: str | None
    current_login_ip: str | None
    login_count: int
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def is_authenticated(self) -> bool:
        """Always true for a stored user (Flask-Login's convention for templates)."""
        return True


class AsyncMemoryStore:
    """A thread-safe store in a few dicts."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._users: dict[str, MemoryUser] = {}
        self._roles: dict[str, Role] = {}
        self._links: set[tuple[str, str]] = set()
        self._creds: dict[str, Credential] = {}

    def _copy(self, user: MemoryUser) -> MemoryUser:
        return copy.deepcopy(user)

    async def create_user(self, new: NewUser) -> Any:
        with self._lock:
            if any(u.normalized_email == new.normalized_email for u in self._users.values()):
                raise EmailTaken
            fields = new.as_fields()
            known = {a.name for a in attrs.fields(MemoryUser)}
            extra = {k: v for k, v in fields.items() if k not in known}
            user = MemoryUser(
                id=uuid.uuid4().hex, extra=extra, **{k: v for k, v in fields.items() if k in known}
            )
            self._users[user.id] = user
            return self._copy(user)

    async def get_user(self, user_id: str) -> Any | None:
        with self._lock:
            user = self._users.get(user_id)
            return self._copy(user) if user else None

    async def get_user_by_email(self, normalized_email: str) -> Any | None:
        with self._lock:
            for user in self._users.values():
                if user.normalized_email == normalized_email:
                    return self._copy(user)
            return None

    async def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        with self._lock:
            stored = self._users[str(user.id)]
            email = changes.get("normalized_email")
            if email is not None and any(
                u.normalized_email == email and u.id != stored.id for u in self._users.values()
            ):
                raise EmailTaken
            for key, value in changes.items():
                setattr(stored, key, value)
            return self._copy(stored)

    async def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        with self._lock:
            stored = self._users.get(str(user.id))
            if stored is None or stored.security_stamp != expected_stamp:
                return None
            return await self.update_user(user, changes)

    async def delete_user(self, user: Any) -> None:
        with self._lock:
            uid = str(user.id)
            self._users.pop(uid, None)
            self._links = {link for link in self._links if link[0] != uid}
            self._creds = {k: c for k, c in self._creds.items() if c.user_id != uid}

    async def increment_failed_logins(self, user: Any, at: datetime) -> int:
        with self._lock:
            stored = self._users[str(user.id)]
            stored.failed_logins += 1
            stored.last_failed_login_at = at
            return stored.failed_logins

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        with self._lock:
            stored = self._users[str(user.id)]
            stored.last_login_at, stored.last_login_ip = (
                stored.current_login_at,
                stored.current_login_ip,
            )
            stored.current_login_at, stored.current_login_ip = at, ip
            stored.login_count += 1
            stored.failed_logins = 0
            stored.last_failed_login_at = None
            return self._copy(stored)

    async def save_role(self, role: Role) -> Role:
        with self._lock:
            self._roles[role.name] = role
            return role

    async def get_role(self, name: str) -> Role | None:
        return self._roles.get(name)

    async def list_roles(self) -> list[Role]:
        return sorted(self._roles.values(), key=lambda r: r.name)

    async def delete_role(self, name: str) -> bool:
        with self._lock:
            self._links = {link for link in self._links if link[1] != name}
            return self._roles.pop(name, None) is not None

    async def add_user_role(self, user: Any, name: str) -> bool:
        with self._lock:
            if name not in self._roles:
                raise NotFound
            link = (str(user.id), name)
            if link in self._links:
                return False
            self._links.add(link)
            return True

    async def remove_user_role(self, user: Any, name: str) -> bool:
        with self._lock:
            link = (str(user.id), name)
            if link not in self._links:
                return False
            self._links.discard(link)
            return True

    async def get_user_roles(self, user: Any) -> frozenset[str]:
        with self._lock:
            return frozenset(r for u, r in self._links if u == str(user.id))

    async def get_user_permissions(self, user: Any) -> frozenset[str]:
        with self._lock:
            names = [r for u, r in self._links if u == str(user.id)]
            return frozenset(p for n in names for p in self._roles[n].permissions)

    async def create_credential(self, credential: Credential) -> None:
        with self._lock:
            self._creds[credential.id] = credential

    async def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        with self._lock:
            for c in self._creds.values():
                if c.kind == kind and c.secret_hash == secret_hash:
                    user = self._users.get(c.user_id)
                    return (c, self._copy(user)) if user else None
            return None

    async def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        with self._lock:
            return sorted(
                (c for c in self._creds.values() if c.user_id == user_id and c.kind == kind),
                key=lambda c: c.created_at,
            )

    async def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        with self._lock:
            c = self._creds.get(credential_id)
            if c is None:
                return
            changes: dict[str, Any] = {"last_used_at": last_used_at}
            if authenticated_at is not None:
                changes["authenticated_at"] = authenticated_at
            self._creds[credential_id] = attrs.evolve(c, **changes)

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        with self._lock:
            c = self._creds.get(credential_id)
            if c is None or (user_id is not None and c.user_id != user_id):
                return False
            del self._creds[credential_id]
            return True

    async def delete_credentials(
        self, user_id: str, kinds: Iterable[CredentialKind], *, except_id: str | None = None
    ) -> int:
        with self._lock:
            kinds = set(kinds)
            doomed = [
                k
                for k, c in self._creds.items()
                if c.user_id == user_id and c.kind in kinds and k != except_id
            ]
            for k in doomed:
                del self._creds[k]
            return len(doomed)

    async def delete_expired_credentials(self, now: datetime) -> int:
        with self._lock:
            doomed = [
                k for k, c in self._creds.items() if c.expires_at is not None and c.expires_at < now
            ]
            for k in doomed:
                del self._creds[k]
            return len(doomed)
