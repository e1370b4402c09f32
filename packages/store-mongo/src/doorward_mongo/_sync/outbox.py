# Generated from packages/store-mongo/src/doorward_mongo/_async/outbox.py by scripts/unasync.py. Do not edit: edit the source.
"""The outbox capability of the Mongo store (``MailOutbox``, DI-02), kept apart from
``store.py``; ``MongoStore`` mixes it in (its ``_sync`` twin is generated).

One document per message (``_id`` is its id). A claim takes the due messages one at a
time with ``find_one_and_update`` filtered on ``state`` and ``next_attempt_at``, so of
concurrent workers each message goes to exactly one; the ``(state, next_attempt_at)``
index (``ensure_indexes``, checked before the first claim) keeps that a short scan.

The store has no ``transaction()``: a flow's mail is inserted just after its change, in
a write of its own (a duplicate key aborts a whole MongoDB transaction, which the
registration of a taken address would have to survive).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.synchronous.collection import Collection

from doorward.exceptions import ConfigurationError
from doorward.records import OutboxMessage, OutboxState
from doorward_mongo._documents import text, translated

__all__ = ["OUTBOX_INDEX", "MongoOutbox"]

Document = dict[str, Any]
#: The index the claims use.
OUTBOX_INDEX = [("state", ASCENDING), ("next_attempt_at", ASCENDING)]
_FIELDS = (
    "kind",
    "to",
    "subject",
    "text",
    "html",
    "created_at",
    "next_attempt_at",
    "state",
    "attempts",
    "lease_owner",
    "lease_until",
    "last_error",
    "sent_at",
    "decoy",
)


def _message(document: Mapping[str, Any]) -> OutboxMessage:
    values: dict[str, Any] = {name: document.get(name) for name in _FIELDS}
    values["decoy"] = bool(values["decoy"])
    return OutboxMessage(id=document["_id"], **values)


class MongoOutbox:
    """``enqueue_mail`` ... ``purge_sent`` over the ``outbox`` collection."""

    outbox: Collection[Document]
    _outbox_checked: bool = False

    def _outbox_ready(self) -> None:
        """Refuse to claim without the claims' index (checked once)."""
        if self._outbox_checked:
            return
        with translated("check_indexes"):
            found = self.outbox.index_information()
        if not any(info["key"] == OUTBOX_INDEX for info in found.values()):
            raise ConfigurationError(
                "the Mongo store's outbox index is missing: call store.ensure_indexes()"
            )
        self._outbox_checked = True

    def enqueue_mail(self, message: OutboxMessage) -> None:
        document: Document = {"_id": message.id}
        document.update({name: getattr(message, name) for name in _FIELDS})
        with translated("enqueue_mail"):
            self.outbox.insert_one(document)

    def claim_mail(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxMessage]:
        self._outbox_ready()
        until = now + lease
        claimed: list[OutboxMessage] = []
        with translated("claim_mail"):
            while len(claimed) < limit:
                document = self.outbox.find_one_and_update(
                    {"state": "pending", "next_attempt_at": {"$lte": now}},
                    {
                        "$set": {
                            "lease_owner": worker,
                            "lease_until": until,
                            "next_attempt_at": until,
                        },
                        "$inc": {"attempts": 1},
                    },
                    sort=[("next_attempt_at", ASCENDING), ("_id", ASCENDING)],
                    return_document=ReturnDocument.AFTER,
                )
                if document is None:
                    break
                claimed.append(_message(document))
        return claimed

    def _finish(
        self, operation: str, message_id: str, worker: str, changes: Document
    ) -> bool:
        value = text(message_id)
        if value is None:
            return False
        with translated(operation):
            result = self.outbox.update_one(
                {"_id": value, "lease_owner": worker, "state": "pending"},
                {"$set": {"lease_owner": None, "lease_until": None, **changes}},
            )
        return result.modified_count == 1

    def mark_sent(self, message_id: str, worker: str, at: datetime) -> bool:
        return self._finish("mark_sent", message_id, worker, {"state": "sent", "sent_at": at})

    def mark_failed(
        self,
        message_id: str,
        worker: str,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        changes: Document = {"last_error": error[:200]}
        if next_attempt_at is None:
            changes["state"] = "dead"
        else:
            changes["next_attempt_at"] = next_attempt_at
        return self._finish("mark_failed", message_id, worker, changes)

    def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        query: Document = {} if state is None else {"state": state}
        with translated("list_mail"):
            cursor = (
                self.outbox.find(query)
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                .limit(limit)
            )
            documents = cursor.to_list()
        return [_message(document) for document in documents]

    def retry_mail(self, message_ids: Iterable[str] | None, now: datetime) -> int:
        query: Document = {"state": "dead"}
        if message_ids is not None:
            wanted = [value for value in map(text, message_ids) if value is not None]
            if not wanted:
                return 0
            query["_id"] = {"$in": wanted}
        with translated("retry_mail"):
            result = self.outbox.update_many(
                query,
                {
                    "$set": {
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "lease_owner": None,
                        "lease_until": None,
                    }
                },
            )
        return result.modified_count

    def purge_sent(self, before: datetime) -> int:
        with translated("purge_sent"):
            result = self.outbox.delete_many({"state": "sent", "sent_at": {"$lt": before}})
        return result.deleted_count
