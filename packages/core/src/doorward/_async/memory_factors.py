"""The second-factor and provider-link capabilities of the in-memory store
(``Authenticators``, ``SocialIdentities``), kept apart so each module stays short.

``AsyncMemoryStore`` (``memory.py``) mixes them in; they share its lock and dictionaries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from doorward.exceptions import IdentityTaken, NotFound
from doorward.records import Authenticator, AuthenticatorKind, SocialIdentity

__all__ = ["AsyncMemoryFactors", "require_aware"]


def require_aware(*values: object) -> None:
    """Refuse naive datetimes: a store keeps aware UTC ones only."""
    for value in values:
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("doorward stores only timezone-aware datetimes")


class AsyncMemoryFactors:
    """Authenticators and social identities in dictionaries, under the store's lock."""

    _lock: threading.Lock
    _users: dict[str, Any]
    _authenticators: dict[str, Authenticator]
    _identities: dict[tuple[str, str], SocialIdentity]

    # -- authenticators -----------------------------------------------------------------

    async def create_authenticator(self, authenticator: Authenticator) -> None:
        """Store the authenticator; ids and ``(user_id, kind, secret)`` are unique."""
        require_aware(*attrs.astuple(authenticator))
        key = (authenticator.user_id, authenticator.kind, authenticator.secret)
        passkey = authenticator.kind == "passkey"
        with self._lock:
            if authenticator.id in self._authenticators or any(
                (a.user_id, a.kind, a.secret) == key
                or (passkey and a.kind == "passkey" and a.secret == authenticator.secret)
                for a in self._authenticators.values()
            ):
                raise ValueError("duplicate authenticator")
            if authenticator.user_id not in self._users:
                raise NotFound("no such user")
            self._authenticators[authenticator.id] = authenticator

    async def list_authenticators(
        self, user_id: str, kind: AuthenticatorKind | None = None
    ) -> list[Authenticator]:
        """The user's authenticators (of one kind when given), oldest first."""
        with self._lock:
            found = [
                a
                for a in self._authenticators.values()
                if a.user_id == user_id and kind in {None, a.kind}
            ]
        return sorted(found, key=lambda a: a.created_at)

    async def confirm_authenticator(self, authenticator_id: str, at: datetime) -> bool:
        """Set ``confirmed_at`` once; ``True`` only for the call that set it."""
        require_aware(at)
        with self._lock:
            found = self._authenticators.get(authenticator_id)
            if found is None or found.confirmed_at is not None:
                return False
            self._authenticators[authenticator_id] = attrs.evolve(found, confirmed_at=at)
            return True

    async def delete_authenticators(
        self,
        user_id: str,
        kinds: Iterable[AuthenticatorKind],
        *,
        except_id: str | None = None,
    ) -> int:
        """Delete the user's authenticators of these kinds except one; return how many."""
        wanted = frozenset(kinds)
        with self._lock:
            doomed = [
                a.id
                for a in self._authenticators.values()
                if a.user_id == user_id and a.kind in wanted and a.id != except_id
            ]
            for authenticator_id in doomed:
                del self._authenticators[authenticator_id]
            return len(doomed)

    async def use_recovery_code(self, user_id: str, secret: str) -> bool:
        """Delete the matching recovery code; ``True`` only for the call that removed it."""
        with self._lock:
            for a in self._authenticators.values():
                if a.user_id == user_id and a.kind == "recovery" and a.secret == secret:
                    del self._authenticators[a.id]
                    return True
            return False

    async def accept_totp_step(self, authenticator_id: str, step: int, at: datetime) -> bool:
        """Move ``last_used_step`` forward to ``step``; ``False`` for a replay."""
        require_aware(at)
        with self._lock:
            found = self._authenticators.get(authenticator_id)
            if found is None or found.confirmed_at is None:
                return False
            if found.last_used_step is not None and found.last_used_step >= step:
                return False
            self._authenticators[authenticator_id] = attrs.evolve(
                found, last_used_step=step, last_used_at=at
            )
            return True

    # -- passkeys (MF-07) ---------------------------------------------------------------

    async def get_passkey(self, secret: str) -> tuple[Authenticator, Any] | None:
        """The passkey with this credential-ID hash and its user, or ``None``."""
        with self._lock:
            for a in self._authenticators.values():
                if a.kind == "passkey" and a.secret == secret:
                    user = self._users.get(a.user_id)
                    return (a, user) if user is not None else None
            return None

    async def use_passkey(
        self,
        authenticator_id: str,
        *,
        old_count: int,
        new_count: int,
        at: datetime,
        issued_at: datetime,
    ) -> bool:
        """Move the sign count and last use once; ``False`` for a replay or a stale challenge."""
        require_aware(at, issued_at)
        with self._lock:
            found = self._authenticators.get(authenticator_id)
            if found is None or found.kind != "passkey" or found.sign_count != old_count:
                return False
            if found.last_used_at is not None and found.last_used_at >= issued_at:
                return False
            self._authenticators[authenticator_id] = attrs.evolve(
                found, sign_count=new_count, last_used_at=at
            )
            return True

    async def delete_passkey(self, authenticator_id: str, user_id: str) -> bool:
        """Delete one passkey of this user; ``True`` only for the call that removed it."""
        with self._lock:
            found = self._authenticators.get(authenticator_id)
            if found is None or found.kind != "passkey" or found.user_id != user_id:
                return False
            del self._authenticators[authenticator_id]
            return True

    # -- social identities --------------------------------------------------------------

    async def add_social_identity(self, identity: SocialIdentity) -> None:
        """Link a provider account; ``IdentityTaken`` if it is linked already."""
        require_aware(identity.linked_at)
        with self._lock:
            if identity.user_id not in self._users:
                raise NotFound("no such user")
            key = (identity.provider, identity.subject)
            if key in self._identities:
                raise IdentityTaken
            self._identities[key] = identity

    async def get_social_identity(self, provider: str, subject: str) -> SocialIdentity | None:
        """The link of this provider account, or ``None``."""
        with self._lock:
            return self._identities.get((provider, subject))

    async def list_social_identities(self, user_id: str) -> list[SocialIdentity]:
        """The user's links, oldest first."""
        with self._lock:
            found = [i for i in self._identities.values() if i.user_id == user_id]
        return sorted(found, key=lambda identity: identity.linked_at)

    async def delete_social_identity(self, identity_id: str, user_id: str) -> bool:
        """Delete one link of this user; ``True`` only for the call that removed it."""
        with self._lock:
            for key, identity in self._identities.items():
                if identity.id == identity_id and identity.user_id == user_id:
                    del self._identities[key]
                    return True
            return False
