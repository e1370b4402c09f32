"""Argon2id password hashing with a global bound on work in flight.

``Argon2Hasher`` is the engine (the sync face); ``AsyncArgon2Hasher`` wraps one and runs
each hash in a worker thread so an event loop never blocks (CC-06). Both faces share one
admission gate: at most ``max_concurrent`` hashes run (64 MiB each at the defaults) and at
most ``max_waiting`` wait; any more are refused at once with ``Overloaded``.

Stored hashes whose parameters exceed the configured caps are refused without being
computed (PW-08); ``verify`` then does one hash with the configured parameters instead, so
every path costs exactly one hash (LE-02).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from doorward.exceptions import Overloaded
from doorward.settings import Argon2Params, Settings

__all__ = ["Argon2Hasher", "AsyncArgon2Hasher"]

T = TypeVar("T")

_PHC = re.compile(
    r"^\$argon2(?:id|i|d)\$v=\d+\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"
)


class Argon2Hasher:
    """Hash and verify passwords with argon2id; thread-safe; bounded work in flight."""

    def __init__(
        self,
        params: Argon2Params | None = None,
        *,
        max_concurrent: int = 2,
        max_waiting: int = 32,
        max_memory_cost: int = 262144,
        max_time_cost: int = 10,
        max_parallelism: int = 16,
    ) -> None:
        self.params = params or Argon2Params()
        self._hasher = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            hash_len=self.params.hash_len,
            salt_len=self.params.salt_len,
            type=argon2.Type.ID,
        )
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self._caps = (max_memory_cost, max_time_cost, max_parallelism)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        #: The most hashes that ever ran at the same time (for tests and benchmarks).
        self.peak_running = 0
        self._dummy: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Argon2Hasher:
        """A hasher with the parameters, caps and bounds of ``settings``."""
        return cls(
            settings.argon2,
            max_concurrent=settings.max_concurrent_hashes,
            max_waiting=settings.max_waiting_hashes,
            max_memory_cost=settings.argon2_max_memory_cost,
            max_time_cost=settings.argon2_max_time_cost,
            max_parallelism=settings.argon2_max_parallelism,
        )

    # -- the gate ------------------------------------------------------------------------

    def admit(self) -> None:
        """Reserve a place (running or waiting), or raise ``Overloaded`` at once."""
        with self._lock:
            if self._admitted >= self.max_concurrent + self.max_waiting:
                raise Overloaded
            self._admitted += 1

    def release(self) -> None:
        """Give back a place taken by ``admit`` without running anything."""
        with self._lock:
            self._admitted -= 1

    def run_admitted(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a slot once one is free, then give back the place ``admit`` took."""
        try:
            with self._slots:
                with self._lock:
                    self._running += 1
                    self.peak_running = max(self.peak_running, self._running)
                try:
                    return fn()
                finally:
                    with self._lock:
                        self._running -= 1
        finally:
            self.release()

    def _gated(self, fn: Callable[[], T]) -> T:
        self.admit()
        return self.run_admitted(fn)

    # -- the work (each of these is one argon2 computation) ------------------------------

    def _hash_now(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_now(self, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None or not self.acceptable(stored_hash):
            self._burn(password)
            return False
        try:
            return self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            return False

    def _burn(self, password: str) -> None:
        """One verify against a dummy hash of the configured cost, result ignored."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            return
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy, password)

    # -- public sync face ------------------------------------------------------------------

    def hash(self, password: str) -> str:
        """A new argon2id PHC string for ``password`` (16-byte salt)."""
        return self._gated(lambda: self._hash_now(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; exactly one hash is computed on every path."""
        return self._gated(lambda: self._verify_now(stored_hash, password))

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the stored hash's parameters differ from the configured ones (PW-07)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    def acceptable(self, stored_hash: str) -> bool:
        """Whether a stored hash is an argon2 PHC string within the parameter caps (PW-08)."""
        match = _PHC.match(stored_hash)
        if match is None:
            return False
        memory, time, parallel = (int(g) for g in match.groups())
        max_memory, max_time, max_parallel = self._caps
        return memory <= max_memory and time <= max_time and parallel <= max_parallel


HASH_THREAD_NICENESS = 10


def yield_to_other_threads() -> None:
    """Lower the calling thread's CPU priority (Linux; elsewhere nothing happens).

    Run once in each hashing thread. argon2 starts one thread per lane (four at the
    defaults) that inherit it, so a hash in flight takes the cores only when the event loop
    and the request threads leave them idle: throughput is unchanged, latency is kept.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASH_THREAD_NICENESS))


class AsyncArgon2Hasher:
    """The async face of an ``Argon2Hasher``: the same gate, the work in worker threads."""

    def __init__(self, hasher: Argon2Hasher | None = None) -> None:
        self.sync = hasher or Argon2Hasher()
        self._executor = ThreadPoolExecutor(
            max_workers=self.sync.max_concurrent,
            thread_name_prefix="doorward-argon2",
            initializer=yield_to_other_threads,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AsyncArgon2Hasher:
        """An async hasher with the parameters, caps and bounds of ``settings``."""
        return cls(Argon2Hasher.from_settings(settings))

    async def _offload(self, fn: Callable[[], T]) -> T:
        self.sync.admit()
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, self.sync.run_admitted, fn)
        except BaseException:
            self.sync.release()
            raise
        return await future

    async def hash(self, password: str) -> str:
        """A new argon2id PHC string, computed off the event loop."""
        return await self._offload(lambda: self.sync._hash_now(password))  # noqa: SLF001

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches, computed off the event loop."""
        return await self._offload(lambda: self.sync._verify_now(stored_hash, password))  # noqa: SLF001

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the stored hash should be replaced (cheap: parses the parameters)."""
        return self.sync.needs_rehash(stored_hash)

    def acceptable(self, stored_hash: str) -> bool:
        """Whether a stored hash is within the parameter caps."""
        return self.sync.acceptable(stored_hash)
