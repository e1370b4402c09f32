# Generated from packages/core/src/doorward/_async/memory_signin.py by scripts/unasync.py. Do not edit: edit the source.
"""The sign-in codes and refresh tokens capabilities of the in-memory store
(``SignInCodes``, ``RefreshTokens``), kept apart so each module stays short.

``MemoryStore`` (``memory.py``) mixes them in; they share its lock and dictionaries.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

import attrs

from doorward._sync.memory_factors import require_aware
from doorward.exceptions import NotFound
from doorward.records import RefreshToken, SignInCode

__all__ = ["MemorySignIn"]


class MemorySignIn:
    """Sign-in codes and refresh-token families in dictionaries, under the store's lock."""

    _lock: threading.Lock
    _users: dict[str, Any]
    _codes: dict[str, SignInCode]
    _refresh: dict[str, RefreshToken]

    def _drop_sign_in(self, user_id: str) -> None:
        """Forget the user's codes and refresh tokens (call with the lock held)."""
        self._codes.pop(user_id, None)
        for token in [t for t in self._refresh.values() if t.user_id == user_id]:
            del self._refresh[token.id]

    # -- sign-in codes ------------------------------------------------------------------

    def create_sign_in_code(self, code: SignInCode) -> None:
        """Store the code in place of the user's earlier one."""
        require_aware(*attrs.astuple(code))
        with self._lock:
            if code.user_id not in self._users:
                raise NotFound("no such user")
            if any(c.id == code.id for c in self._codes.values()):
                raise ValueError("duplicate sign-in code id")
            self._codes[code.user_id] = code

    def get_sign_in_code(self, user_id: str) -> SignInCode | None:
        """The user's code, expired or not."""
        with self._lock:
            return self._codes.get(user_id)

    def _code_by_id(self, code_id: str) -> SignInCode | None:
        return next((c for c in self._codes.values() if c.id == code_id), None)

    def fail_sign_in_code(self, code_id: str) -> int:
        """Count one wrong try; the count after it (0 if the code is gone)."""
        with self._lock:
            code = self._code_by_id(code_id)
            if code is None:
                return 0
            code = attrs.evolve(code, attempts=code.attempts + 1)
            self._codes[code.user_id] = code
            return code.attempts

    def use_sign_in_code(self, code_id: str, max_attempts: int) -> bool:
        """Delete the code if it has fewer than ``max_attempts`` wrong tries; once."""
        with self._lock:
            code = self._code_by_id(code_id)
            if code is None or code.attempts >= max_attempts:
                return False
            del self._codes[code.user_id]
            return True

    def delete_sign_in_codes(self, user_id: str) -> int:
        """Delete the user's code; how many (0 or 1)."""
        with self._lock:
            return 0 if self._codes.pop(user_id, None) is None else 1

    # -- refresh tokens -----------------------------------------------------------------

    def create_refresh_token(self, token: RefreshToken) -> None:
        """Store the token; ids and hashes are unique."""
        require_aware(*attrs.astuple(token))
        with self._lock:
            if token.user_id not in self._users:
                raise NotFound("no such user")
            if token.id in self._refresh or any(
                t.secret_hash == token.secret_hash for t in self._refresh.values()
            ):
                raise ValueError("duplicate refresh token")
            self._refresh[token.id] = token

    def get_refresh_token(self, secret_hash: str) -> tuple[RefreshToken, Any] | None:
        """The token with this hash and a copy of its user."""
        with self._lock:
            token = next((t for t in self._refresh.values() if t.secret_hash == secret_hash), None)
            if token is None:
                return None
            return token, copy.deepcopy(self._users[token.user_id])

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        """Mark the token used, once."""
        require_aware(at)
        with self._lock:
            token = self._refresh.get(token_id)
            if token is None or token.used_at is not None:
                return False
            self._refresh[token_id] = attrs.evolve(token, used_at=at)
            return True

    def list_refresh_tokens(self, user_id: str) -> list[RefreshToken]:
        """The user's unused tokens, oldest first."""
        with self._lock:
            found = [t for t in self._refresh.values() if t.user_id == user_id and not t.used_at]
        return sorted(found, key=lambda t: t.created_at)

    def delete_refresh_family(self, family_id: str, user_id: str | None = None) -> int:
        """Delete the family's tokens (only the user's when given)."""
        with self._lock:
            doomed = [
                t.id
                for t in self._refresh.values()
                if t.family_id == family_id and user_id in {None, t.user_id}
            ]
            for token_id in doomed:
                del self._refresh[token_id]
        return len(doomed)

    def delete_refresh_tokens(self, user_id: str) -> int:
        """Delete every refresh token of the user."""
        with self._lock:
            doomed = [t.id for t in self._refresh.values() if t.user_id == user_id]
            for token_id in doomed:
                del self._refresh[token_id]
        return len(doomed)

    def delete_expired_refresh_tokens(self, now: datetime) -> int:
        """Delete the tokens whose family ended before ``now``."""
        require_aware(now)
        with self._lock:
            doomed = [t.id for t in self._refresh.values() if t.expires_at < now]
            for token_id in doomed:
                del self._refresh[token_id]
        return len(doomed)
