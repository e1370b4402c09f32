"""The outbox capability of the in-memory store (``MailOutbox``), kept apart like the factors.

``AsyncMemoryStore`` (``memory.py``) mixes it in; it shares the store's lock, so each
method is one atomic step. The outbox lives in the process: it is for tests and demos,
where a hard kill may lose mail; a database store keeps it across restarts (DI-02).
The memory store has no ``transaction()``: a flow's mail is stored just after its change,
and both live and die with the process anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from doorward._async.memory_factors import require_aware
from doorward._async.outbox import AsyncMailOutbox
from doorward.records import OutboxMessage, OutboxState

__all__ = ["AsyncMemoryOutbox"]


class AsyncMemoryOutbox:
    """Outbox messages in a dictionary, under the store's lock."""

    _lock: threading.Lock
    _outbox: dict[str, OutboxMessage]

    async def enqueue_mail(self, message: OutboxMessage) -> None:
        """Store the message; a duplicate id is refused with ``ValueError``."""
        require_aware(message.created_at, message.next_attempt_at)
        with self._lock:
            if message.id in self._outbox:
                raise ValueError("duplicate outbox message id")
            self._outbox[message.id] = message

    async def claim_mail(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxMessage]:
        """Lease due pending messages to ``worker``, oldest due first (one critical section)."""
        require_aware(now)
        until = now + lease
        with self._lock:
            due = sorted(
                (
                    m
                    for m in self._outbox.values()
                    if m.state == "pending" and m.next_attempt_at <= now
                ),
                key=lambda m: (m.next_attempt_at, m.id),
            )[: max(limit, 0)]
            claimed = []
            for message in due:
                taken = attrs.evolve(
                    message,
                    lease_owner=worker,
                    lease_until=until,
                    next_attempt_at=until,
                    attempts=message.attempts + 1,
                )
                self._outbox[message.id] = taken
                claimed.append(taken)
        return claimed

    def _held(self, message_id: str, worker: str) -> OutboxMessage | None:
        found = self._outbox.get(message_id)
        if found is None or found.state != "pending" or found.lease_owner != worker:
            return None
        return found

    async def mark_sent(self, message_id: str, worker: str, at: datetime) -> bool:
        """Mark sent while ``worker`` holds the lease; ``True`` only to that call."""
        require_aware(at)
        with self._lock:
            found = self._held(message_id, worker)
            if found is None:
                return False
            self._outbox[message_id] = attrs.evolve(
                found, state="sent", sent_at=at, lease_owner=None, lease_until=None
            )
            return True

    async def mark_failed(
        self,
        message_id: str,
        worker: str,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Reschedule (or, with ``None``, kill) while ``worker`` holds the lease."""
        require_aware(next_attempt_at)
        with self._lock:
            found = self._held(message_id, worker)
            if found is None:
                return False
            changes: dict[str, object] = {
                "last_error": error,
                "lease_owner": None,
                "lease_until": None,
            }
            if next_attempt_at is None:
                changes["state"] = "dead"
            else:
                changes["next_attempt_at"] = next_attempt_at
            self._outbox[message_id] = attrs.evolve(found, **changes)  # type: ignore[arg-type]
            return True

    async def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        """Messages (of ``state``), oldest first."""
        with self._lock:
            found = [m for m in self._outbox.values() if state in (None, m.state)]
        return sorted(found, key=lambda m: (m.created_at, m.id))[: max(limit, 0)]

    async def retry_mail(self, message_ids: Iterable[str] | None, now: datetime) -> int:
        """Dead messages (these, or all) become pending now with no attempts counted."""
        require_aware(now)
        wanted = None if message_ids is None else set(message_ids)
        count = 0
        with self._lock:
            for message in list(self._outbox.values()):
                if message.state != "dead" or (wanted is not None and message.id not in wanted):
                    continue
                self._outbox[message.id] = attrs.evolve(
                    message,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
                count += 1
        return count

    async def purge_sent(self, before: datetime) -> int:
        """Delete sent messages older than ``before``."""
        require_aware(before)
        with self._lock:
            old = [
                m.id
                for m in self._outbox.values()
                if m.state == "sent" and m.sent_at is not None and m.sent_at < before
            ]
            for message_id in old:
                del self._outbox[message_id]
        return len(old)


def _has_outbox(store: AsyncMemoryOutbox) -> AsyncMailOutbox:
    """Never called: makes mypy prove that the class implements the capability."""
    return store
