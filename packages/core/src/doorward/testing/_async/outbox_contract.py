"""The outbox contract: every rule of ``AsyncMailOutbox``, races included (DI-02).

Subclass ``AsyncMailOutboxContract`` with a ``store`` fixture yielding a fresh store that
has the outbox capability (no user is needed)::

    class TestMyStoreOutbox(AsyncMailOutboxContract):
        @pytest_asyncio.fixture
        async def store(self):
            yield await make_my_store()

The race tests release ``race_workers`` claimers at once on the one store object; each
must take its own connection, so the race happens in the database.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from doorward.records import OutboxMessage
from doorward.testing._async._concurrency import run_concurrently
from doorward.testing._async.store_contract import (
    T0,
    _AsyncContractBase,
    assert_same_second,
    errors,
)

__all__ = ["AsyncMailOutboxContract"]

LEASE = timedelta(minutes=5)


class AsyncMailOutboxContract(_AsyncContractBase):
    """The outbox capability (``AsyncMailOutbox``)."""

    def message(self, **overrides: Any) -> OutboxMessage:
        """A new pending message due at ``T0``, with a random id."""
        values: dict[str, Any] = {
            "id": secrets.token_hex(16),
            "kind": "reset",
            "to": "ada@example.test",
            "subject": "Reset your password",
            "text": "https://example.test/reset?token=abc",
            "html": "<p>https://example.test/reset?token=abc</p>",
            "created_at": T0,
            "next_attempt_at": T0,
        }
        values.update(overrides)
        return OutboxMessage(**values)

    async def stored(self, store: Any, message_id: str) -> OutboxMessage:
        """The stored record of one message (through ``list_mail``)."""
        found: list[OutboxMessage] = [
            m for m in await store.list_mail(limit=1000) if m.id == message_id
        ]
        assert len(found) == 1, f"message {message_id} is not stored once"
        return found[0]

    async def test_enqueue_round_trips_every_field(self, store: Any) -> None:
        """list_mail returns the message as enqueued, field by field."""
        bare = self.message(html=None, kind="", decoy=True)
        full = self.message(
            to="Ünïcode <ü@example.test>",
            subject="Bestätigen ✓",
            text="line one\nline two " + "x" * 5000,
            html="<b>" + "y" * 5000 + "</b>",
            created_at=T0 + timedelta(seconds=1),
            next_attempt_at=T0 + timedelta(minutes=3),
        )
        for message in (bare, full):
            await store.enqueue_mail(message)
        assert [bare, full] == await store.list_mail()
        assert [bare, full] == await store.list_mail("pending")

    async def test_enqueue_refuses_a_duplicate_id(self, store: Any) -> None:
        """A second message with the same id is refused; the first is kept as it was."""
        first = self.message()
        await store.enqueue_mail(first)
        with pytest.raises(Exception):  # noqa: B017 (the error type is the store's)
            await store.enqueue_mail(self.message(id=first.id, subject="other"))
        assert [first] == await store.list_mail()

    async def test_repr_shows_no_recipient_or_body(self, store: Any) -> None:
        """A logged record shows neither the address nor the links with their tokens."""
        message = self.message()
        await store.enqueue_mail(message)
        shown = repr(await self.stored(store, message.id))
        assert "ada@example.test" not in shown
        assert "token=abc" not in shown

    async def test_claim_leases_due_messages_oldest_first(self, store: Any) -> None:
        """Only due pending messages are claimed, oldest due first, up to the limit; each
        gets the lease, one more attempt and next_attempt_at at the lease's end."""
        late = self.message(next_attempt_at=T0 + timedelta(seconds=30))
        older = self.message(next_attempt_at=T0 - timedelta(seconds=20))
        old = self.message(next_attempt_at=T0 - timedelta(seconds=10))
        future = self.message(next_attempt_at=T0 + timedelta(hours=1))
        for message in (late, older, old, future):
            await store.enqueue_mail(message)
        now = T0 + timedelta(seconds=30)
        first = await store.claim_mail("w1", now, LEASE, 2)
        assert [older.id, old.id] == [m.id for m in first]
        for message in first:
            assert message.lease_owner == "w1"
            assert message.attempts == 1
            assert message.state == "pending"
            assert_same_second(now + LEASE, message.lease_until)
            assert_same_second(now + LEASE, message.next_attempt_at)
            assert message == await self.stored(store, message.id)
        second = await store.claim_mail("w2", now, LEASE, 10)
        assert [late.id] == [m.id for m in second]
        assert await store.claim_mail("w3", now, LEASE, 10) == []
        assert await store.claim_mail("w3", now, LEASE, 0) == []

    async def test_a_lapsed_lease_is_claimed_again(self, store: Any) -> None:
        """A message whose worker never reported is claimed again once its lease ends, by
        another worker, with its attempts counted; the first worker can no longer mark it."""
        message = self.message()
        await store.enqueue_mail(message)
        assert len(await store.claim_mail("w1", T0, LEASE, 1)) == 1
        assert await store.claim_mail("w2", T0 + LEASE - timedelta(seconds=1), LEASE, 1) == []
        (again,) = await store.claim_mail("w2", T0 + LEASE, LEASE, 1)
        assert (again.lease_owner, again.attempts) == ("w2", 2)
        assert not await store.mark_sent(message.id, "w1", T0 + LEASE)
        assert not await store.mark_failed(message.id, "w1", "SMTPException", None)
        assert await store.mark_sent(message.id, "w2", T0 + LEASE)

    async def test_mark_sent_only_by_the_holder_and_once(self, store: Any) -> None:
        """mark_sent is True once, for the worker holding the lease; a sent message is
        never claimed again."""
        message = self.message()
        await store.enqueue_mail(message)
        assert not await store.mark_sent(message.id, "w1", T0)  # not claimed yet
        await store.claim_mail("w1", T0, LEASE, 1)
        assert not await store.mark_sent(message.id, "w2", T0)
        assert not await store.mark_sent("no-such-message", "w1", T0)
        sent_at = T0 + timedelta(seconds=2)
        assert await store.mark_sent(message.id, "w1", sent_at)
        assert not await store.mark_sent(message.id, "w1", sent_at)
        stored = await self.stored(store, message.id)
        assert (stored.state, stored.lease_owner, stored.lease_until) == ("sent", None, None)
        assert_same_second(sent_at, stored.sent_at)
        assert await store.claim_mail("w1", T0 + timedelta(days=9), LEASE, 10) == []
        assert [stored] == await store.list_mail("sent")

    async def test_mark_failed_reschedules_or_kills(self, store: Any) -> None:
        """A failure with a time keeps the message pending until then; with None it is dead,
        never claimed, listed as dead. Only the holder may report, once per claim."""
        message = self.message()
        await store.enqueue_mail(message)
        await store.claim_mail("w1", T0, LEASE, 1)
        retry_at = T0 + timedelta(seconds=30)
        assert not await store.mark_failed(message.id, "w2", "SMTPException", retry_at)
        assert await store.mark_failed(message.id, "w1", "SMTPServerDisconnected", retry_at)
        assert not await store.mark_failed(message.id, "w1", "SMTPException", retry_at)
        stored = await self.stored(store, message.id)
        assert (stored.state, stored.lease_owner, stored.lease_until) == ("pending", None, None)
        assert stored.last_error == "SMTPServerDisconnected"
        assert_same_second(retry_at, stored.next_attempt_at)
        assert await store.claim_mail("w1", retry_at - timedelta(seconds=1), LEASE, 1) == []
        (again,) = await store.claim_mail("w1", retry_at, LEASE, 1)
        assert again.attempts == 2
        assert await store.mark_failed(message.id, "w1", "ConnectionRefusedError", None)
        dead = await self.stored(store, message.id)
        assert (dead.state, dead.last_error) == ("dead", "ConnectionRefusedError")
        assert [dead] == await store.list_mail("dead")
        assert await store.claim_mail("w1", T0 + timedelta(days=9), LEASE, 10) == []
        assert not await store.mark_sent(message.id, "w1", T0)

    async def test_list_mail_filters_orders_and_limits(self, store: Any) -> None:
        """list_mail: by state when given, oldest created_at first, at most ``limit``."""
        messages = [self.message(created_at=T0 + timedelta(seconds=9 - i)) for i in range(5)]
        for message in messages:
            await store.enqueue_mail(message)
        await store.claim_mail("w1", T0, LEASE, 5)
        await store.mark_sent(messages[0].id, "w1", T0)
        await store.mark_failed(messages[1].id, "w1", "E", None)
        oldest_first = [m.id for m in messages[::-1]]
        assert oldest_first == [m.id for m in await store.list_mail()]
        assert oldest_first[:2] == [m.id for m in await store.list_mail(limit=2)]
        assert [messages[0].id] == [m.id for m in await store.list_mail("sent")]
        assert [messages[1].id] == [m.id for m in await store.list_mail("dead")]
        assert oldest_first[:3] == [m.id for m in await store.list_mail("pending")]

    async def test_retry_mail_revives_dead_messages(self, store: Any) -> None:
        """retry_mail(ids) revives those dead ones only; retry_mail(None) every dead one;
        revived messages are pending, due now, with no attempts counted."""
        messages = [self.message() for _ in range(4)]
        for message in messages:
            await store.enqueue_mail(message)
        await store.claim_mail("w1", T0, LEASE, 4)
        for message in messages[:3]:
            await store.mark_failed(message.id, "w1", "E", None)
        await store.mark_sent(messages[3].id, "w1", T0)
        now = T0 + timedelta(hours=2)
        ids = [messages[0].id, messages[3].id, "no-such-message"]
        assert await store.retry_mail(ids, now) == 1
        revived = await self.stored(store, messages[0].id)
        assert (revived.state, revived.attempts, revived.lease_owner) == ("pending", 0, None)
        assert_same_second(now, revived.next_attempt_at)
        assert (await self.stored(store, messages[3].id)).state == "sent"
        assert await store.retry_mail(None, now) == 2
        assert await store.retry_mail(None, now) == 0
        assert await store.list_mail("dead") == []
        claimed = await store.claim_mail("w2", now, LEASE, 10)
        assert sorted(m.id for m in messages[:3]) == sorted(m.id for m in claimed)

    async def test_purge_sent_deletes_old_sent_messages_only(self, store: Any) -> None:
        """purge_sent removes sent messages sent before the cut-off, nothing else."""
        messages = [self.message() for _ in range(4)]
        for message in messages:
            await store.enqueue_mail(message)
        await store.claim_mail("w1", T0, LEASE, 4)  # the fourth stays leased
        await store.mark_sent(messages[0].id, "w1", T0)
        await store.mark_sent(messages[1].id, "w1", T0 + timedelta(days=2))
        await store.mark_failed(messages[2].id, "w1", "E", None)
        assert await store.purge_sent(T0 + timedelta(days=1)) == 1
        kept = {m.id for m in await store.list_mail()}
        assert kept == {m.id for m in messages[1:]}
        assert await store.purge_sent(T0 + timedelta(days=1)) == 0

    async def test_di02_race_concurrent_claimers_never_share_a_message(self, store: Any) -> None:
        """``race_workers`` workers claim in a loop at once: every message is claimed
        exactly once, by one of them."""
        messages = [self.message() for _ in range(self.race_workers * 4)]
        for message in messages:
            await store.enqueue_mail(message)

        async def drain(index: int) -> list[str]:
            got: list[str] = []
            while True:
                batch = await store.claim_mail(f"w{index}", T0, LEASE, 3)
                if not batch:
                    return got
                got.extend(m.id for m in batch)
                assert all(m.lease_owner == f"w{index}" for m in batch)

        results = await run_concurrently(drain, self.race_workers)
        assert errors(results) == []
        claimed = [message_id for ids in results for message_id in ids]  # type: ignore[union-attr]
        assert sorted(claimed) == sorted(m.id for m in messages)

    async def test_di02_race_one_message_one_claimer(self, store: Any) -> None:
        """Of concurrent claims of one due message exactly one gets it; of concurrent
        mark_sent calls by its holder exactly one is True."""
        message = self.message()
        await store.enqueue_mail(message)

        async def claim(index: int) -> int:
            return len(await store.claim_mail(f"w{index}", T0, LEASE, 1))

        results = await run_concurrently(claim, self.race_workers)
        assert errors(results) == []
        assert sorted(results) == [0] * (self.race_workers - 1) + [1]  # type: ignore[type-var]
        holder = (await self.stored(store, message.id)).lease_owner
        assert holder is not None

        async def mark(_: int) -> bool:
            return bool(await store.mark_sent(message.id, holder, T0))

        marks = await run_concurrently(mark, self.race_workers)
        assert marks.count(True) == 1
