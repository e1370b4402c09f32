"""The outbox capability of the SQLAlchemy store (``MailOutbox``, DI-02), kept apart from
``store.py``; ``AsyncSQLAlchemyStore`` mixes it in (its ``_sync`` twin is generated).

Claims are atomic per message. On PostgreSQL and MariaDB/MySQL a claim locks the due rows
it picks with ``SELECT ... FOR UPDATE SKIP LOCKED`` and updates them in the same
transaction, so concurrent workers pick disjoint rows without waiting on each other. On
other databases (SQLite) each picked row is taken by a conditional ``UPDATE ... WHERE id
= ? AND state = 'pending' AND next_attempt_at <= :now``, and only a row count of 1 makes
it the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from doorward.records import OutboxMessage, OutboxState
from doorward_sqlalchemy._async.unit import AsyncUnitOfWork
from doorward_sqlalchemy._errors import translated
from doorward_sqlalchemy._rows import searchable
from doorward_sqlalchemy.models import Models

__all__ = ["OUTBOX_METHODS", "AsyncSQLAlchemyOutbox"]

#: The methods of the capability, absent (``None``) when ``Models.outbox`` is.
OUTBOX_METHODS = (
    "enqueue_mail",
    "claim_mail",
    "mark_sent",
    "mark_failed",
    "list_mail",
    "retry_mail",
    "purge_sent",
)
_SKIP_LOCKED = frozenset({"postgresql", "mysql", "mariadb"})
#: rounds of picking again when every picked row went to another worker (SQLite)
_ROUNDS = 3


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        kind=row.kind,
        to=row.recipient,
        subject=row.subject,
        text=row.text,
        html=row.html,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        state=row.state,
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        sent_at=row.sent_at,
        decoy=bool(row.decoy),
    )


class AsyncSQLAlchemyOutbox(AsyncUnitOfWork):
    """``enqueue_mail`` ... ``purge_sent`` over ``Models.outbox``, one transaction each;
    ``enqueue_mail`` joins the store's ``transaction()`` when one is open (DI-02)."""

    engine: AsyncEngine
    models: Models

    @property
    def _outbox(self) -> Any:
        return self.models.outbox.__table__  # type: ignore[union-attr]

    async def enqueue_mail(self, message: OutboxMessage) -> None:
        values = {
            "id": message.id,
            "kind": message.kind,
            "recipient": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "created_at": message.created_at,
            "next_attempt_at": message.next_attempt_at,
            "state": message.state,
            "attempts": message.attempts,
            "lease_owner": message.lease_owner,
            "lease_until": message.lease_until,
            "last_error": message.last_error,
            "sent_at": message.sent_at,
            "decoy": message.decoy,
        }
        with translated("enqueue_mail"):
            async with self._writing_core() as connection:
                await connection.execute(insert(self._outbox).values(**values))

    async def claim_mail(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        table = self._outbox
        c = table.c
        until = now + lease
        due = [c.state == "pending", c.next_attempt_at <= now]
        pick = select(c.id).where(*due).order_by(c.next_attempt_at, c.id).limit(limit)
        take = update(table).values(
            lease_owner=worker,
            lease_until=until,
            next_attempt_at=until,
            attempts=c.attempts + 1,
        )
        with translated("claim_mail"):
            async with self.engine.begin() as connection:
                if self.engine.dialect.name in _SKIP_LOCKED:
                    picked = list(
                        (await connection.execute(pick.with_for_update(skip_locked=True))).scalars()
                    )
                    if picked:
                        await connection.execute(take.where(c.id.in_(picked)))
                    claimed = picked
                else:
                    claimed = []
                    for _ in range(_ROUNDS):
                        picked = list((await connection.execute(pick)).scalars())
                        for message_id in picked:
                            result = await connection.execute(take.where(c.id == message_id, *due))
                            if result.rowcount == 1:
                                claimed.append(message_id)
                        if claimed or not picked:
                            break
                if not claimed:
                    return []
                rows = (await connection.execute(select(table).where(c.id.in_(claimed)))).all()
        order = {message_id: index for index, message_id in enumerate(claimed)}
        return sorted((_message(row) for row in rows), key=lambda m: order[m.id])

    async def _finish(self, operation: str, message_id: str, worker: str, **values: Any) -> bool:
        if not searchable(message_id):
            return False
        c = self._outbox.c
        statement = (
            update(self._outbox)
            .where(c.id == message_id, c.lease_owner == worker, c.state == "pending")
            .values(lease_owner=None, lease_until=None, **values)
        )
        with translated(operation):
            async with self.engine.begin() as connection:
                result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def mark_sent(self, message_id: str, worker: str, at: datetime) -> bool:
        return await self._finish("mark_sent", message_id, worker, state="sent", sent_at=at)

    async def mark_failed(
        self,
        message_id: str,
        worker: str,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        if next_attempt_at is None:
            return await self._finish(
                "mark_failed", message_id, worker, state="dead", last_error=error[:200]
            )
        return await self._finish(
            "mark_failed",
            message_id,
            worker,
            last_error=error[:200],
            next_attempt_at=next_attempt_at,
        )

    async def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        c = self._outbox.c
        statement = select(self._outbox).order_by(c.created_at, c.id).limit(max(limit, 0))
        if state is not None:
            statement = statement.where(c.state == state)
        with translated("list_mail"):
            async with self.engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        return [_message(row) for row in rows]

    async def retry_mail(self, message_ids: Iterable[str] | None, now: datetime) -> int:
        c = self._outbox.c
        statement = (
            update(self._outbox)
            .where(c.state == "dead")
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )
        if message_ids is not None:
            wanted = [i for i in message_ids if searchable(i)]
            if not wanted:
                return 0
            statement = statement.where(c.id.in_(wanted))
        with translated("retry_mail"):
            async with self.engine.begin() as connection:
                result = await connection.execute(statement)
        return int(result.rowcount)

    async def purge_sent(self, before: datetime) -> int:
        c = self._outbox.c
        statement = delete(self._outbox).where(c.state == "sent", c.sent_at < before)
        with translated("purge_sent"):
            async with self.engine.begin() as connection:
                result = await connection.execute(statement)
        return int(result.rowcount)
