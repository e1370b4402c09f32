"""Use a sync store from async code: every call runs in a worker thread.

    store = AsyncThreadedStore(SQLAlchemyStore(engine, models))   # for AsyncAuth
    limiter = AsyncThreadedRateLimiter(SQLAlchemyRateLimiter(engine))

Write a store once, in the face its driver has; this wrapper gives it the other face
without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from datetime import datetime
from typing import Any, TypeVar

from doorward._sync.protocols import UserStore
from doorward._sync.ratelimit import RateLimiter
from doorward.records import Credential, CredentialKind, NewUser, Role
from doorward.settings import RateLimit

__all__ = ["AsyncThreadedRateLimiter", "AsyncThreadedStore"]

T = TypeVar("T")


async def _in_thread(
    executor: Executor | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


class AsyncThreadedStore:
    """The async face of a sync ``UserStore``."""

    def __init__(self, store: UserStore, executor: Executor | None = None) -> None:
        self.store = store
        self.executor = executor

    async def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await _in_thread(self.executor, fn, *args, **kwargs)

    async def create_user(self, new: NewUser) -> Any:
        return await self._run(self.store.create_user, new)

    async def get_user(self, user_id: str) -> Any | None:
        return await self._run(self.store.get_user, user_id)

    async def get_user_by_email(self, normalized_email: str) -> Any | None:
        return await self._run(self.store.get_user_by_email, normalized_email)

    async def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        return await self._run(self.store.update_user, user, changes)

    async def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        return await self._run(self.store.compare_and_set_stamp, user, expected_stamp, changes)

    async def delete_user(self, user: Any) -> None:
        return await self._run(self.store.delete_user, user)

    async def increment_failed_logins(self, user: Any, at: datetime) -> int:
        return await self._run(self.store.increment_failed_logins, user, at)

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        return await self._run(self.store.record_login, user, at, ip)

    async def save_role(self, role: Role) -> Role:
        return await self._run(self.store.save_role, role)

    async def get_role(self, name: str) -> Role | None:
        return await self._run(self.store.get_role, name)

    async def list_roles(self) -> list[Role]:
        return await self._run(self.store.list_roles)

    async def delete_role(self, name: str) -> bool:
        return await self._run(self.store.delete_role, name)

    async def add_user_role(self, user: Any, name: str) -> bool:
        return await self._run(self.store.add_user_role, user, name)

    async def remove_user_role(self, user: Any, name: str) -> bool:
        return await self._run(self.store.remove_user_role, user, name)

    async def get_user_roles(self, user: Any) -> frozenset[str]:
        return await self._run(self.store.get_user_roles, user)

    async def get_user_permissions(self, user: Any) -> frozenset[str]:
        return await self._run(self.store.get_user_permissions, user)

    async def create_credential(self, credential: Credential) -> None:
        return await self._run(self.store.create_credential, credential)

    async def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        return await self._run(self.store.get_credential, kind, secret_hash)

    async def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        return await self._run(
            self.store.touch_credential,
            credential_id,
            last_used_at=last_used_at,
            authenticated_at=authenticated_at,
        )

    async def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        return await self._run(
            self.store.delete_credentials, user_id, list(kinds), except_id=except_id
        )

    async def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        return await self._run(self.store.list_credentials, user_id, kind)

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        return await self._run(self.store.delete_credential, credential_id, user_id)

    async def delete_expired_credentials(self, now: datetime) -> int:
        return await self._run(self.store.delete_expired_credentials, now)


class AsyncThreadedRateLimiter:
    """The async face of a sync ``RateLimiter`` (a shared one on SQLite, for instance)."""

    def __init__(self, limiter: RateLimiter, executor: Executor | None = None) -> None:
        self.limiter = limiter
        self.executor = executor

    async def hit(self, key: str, limit: RateLimit, now: datetime) -> float | None:
        return await _in_thread(self.executor, self.limiter.hit, key, limit, now)

    async def reset(self, key: str) -> None:
        await _in_thread(self.executor, self.limiter.reset, key)
