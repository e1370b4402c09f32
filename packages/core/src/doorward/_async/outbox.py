"""Durable mail (DI-02): a mailer that writes to the store's outbox, and the workers that
deliver it. Written once; the sync twin (``OutboxMailer``, ``MailWorker``) is generated.

    mailer = AsyncOutboxMailer.from_url(store, "smtp+starttls://u:p@mail.example:587?from=a@b")
    auth = AsyncAuth(settings, store, mailer=mailer)

``send`` stores the rendered mail (one insert in the store's ``MailOutbox`` capability)
and returns; nothing is kept only in the process, so a hard kill or an SMTP outage loses
nothing. A ``MailWorker`` claims due messages with a lease (``claim_mail``), delivers them
through a sync mailer (``SmtpDelivery``; in a worker thread on the async face) and marks
each sent, or failed with the next attempt after ``RETRY_DELAYS`` (30 s doubling to 10
minutes: 12 attempts over about 85 minutes), then ``dead`` until an operator retries it
(``doorward mail retry``). Any number of workers in any number of processes share one
outbox; each message is held by one at a time, so each is delivered once (again only if
its worker died mid-delivery and its lease ran out).

By default the mailer runs one worker in the background of its process (a thread on the
sync face, a task on the async face): started by the first ``send`` or by ``start()``
(call it at start-up, so mail left by a previous process goes out without waiting for a
new one), stopped by ``close()``. ``background=False`` leaves delivery to separate
processes (``doorward mail-worker``).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from doorward._async._io import Background, pause, run_blocking
from doorward._smtp import SmtpConfig, SmtpDelivery
from doorward._sync.protocols import Mailer
from doorward.capabilities import missing_methods
from doorward.clock import Clock, SystemClock
from doorward.exceptions import ConfigurationError
from doorward.mail import Mail
from doorward.records import OutboxMessage, OutboxState

__all__ = ["RETRY_DELAYS", "AsyncMailOutbox", "AsyncMailWorker", "AsyncOutboxMailer"]

logger = logging.getLogger("doorward.mail")

#: Seconds to wait after the 1st, 2nd ... failed attempt; after the last, the message is
#: dead. 30 s doubling, capped at 10 min: 12 attempts spanning 5,130 s (about 85 min).
RETRY_DELAYS: tuple[float, ...] = (30, 60, 120, 240, 480, 600, 600, 600, 600, 600, 600)


def mail_of(message: OutboxMessage) -> Mail:
    """The ``Mail`` a stored message is delivered as."""
    return Mail(
        to=message.to,
        subject=message.subject,
        text=message.text,
        html=message.html,
        kind=message.kind,
    )


def _worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _require_outbox(store: Any) -> None:
    missing = missing_methods(store, AsyncMailOutbox)
    if missing:
        raise ConfigurationError(
            f"the outbox mailer needs the store capability MailOutbox but "
            f"{type(store).__name__} lacks {', '.join(missing)}"
        )


class AsyncMailOutbox(Protocol):
    """The outbox capability: mail kept in the store until a worker delivers it (DI-02).

    Any number of workers, in any number of processes, share one outbox; each message is
    held by at most one of them at a time (a lease), so each is delivered once while its
    worker lives, and again after its lease ends if the worker died mid-delivery. Every
    method is one atomic step of the database. Datetimes are aware UTC.

    Optional: ``transaction()``, a context manager in whose block every method of the
    store, ``enqueue_mail`` included, runs in one transaction, each method still atomic
    on its own (a savepoint); the flows then write a change and its mail together
    (``Context.change_and_mail``; ``docs/writing-a-store.md``).
    ``doorward.testing.AsyncMailOutboxContract`` checks every rule below, races included.
    """

    async def enqueue_mail(self, message: OutboxMessage) -> None:
        """Store a new message as given (``state="pending"``); ``id`` is unique.

        A store with transactions writes it in the caller's transaction when it has one.
        """

    async def claim_mail(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` pending messages whose ``next_attempt_at <= now`` to ``worker``.

        Oldest ``next_attempt_at`` first. Each claimed message gets ``lease_owner=worker``,
        ``lease_until = next_attempt_at = now + lease`` and ``attempts + 1``, and is returned
        as stored after that write. Atomic per message: of concurrent claimers each message
        goes to exactly one (``SELECT ... FOR UPDATE SKIP LOCKED`` then ``UPDATE``, or a
        conditional ``UPDATE ... WHERE state = 'pending' AND next_attempt_at <= :now`` per
        row with its row count, or ``find_one_and_update``).
        """

    async def mark_sent(self, message_id: str, worker: str, at: datetime) -> bool:
        """``state="sent"``, ``sent_at=at``, lease cleared; only while ``worker`` holds the
        lease of a pending message. ``True`` only to the call that did it."""

    async def mark_failed(
        self,
        message_id: str,
        worker: str,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record a failed attempt: ``last_error=error``, lease cleared, and
        ``next_attempt_at`` set (the message stays ``pending``) or, with ``None``,
        ``state="dead"``. Only while ``worker`` holds the lease of a pending message;
        ``True`` only to the call that did it."""

    async def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages (of ``state`` when given), oldest ``created_at`` first."""

    async def retry_mail(self, message_ids: Iterable[str] | None, now: datetime) -> int:
        """Make dead messages (these ids, or every dead one with ``None``) pending again:
        ``attempts=0``, ``next_attempt_at=now``, lease cleared. Returns how many; ids of
        messages that are not dead, or unknown, are skipped."""

    async def purge_sent(self, before: datetime) -> int:
        """Delete sent messages with ``sent_at < before``; return how many."""


class AsyncMailWorker:
    """Delivers the outbox of ``store`` through ``delivery`` (a sync mailer, such as
    ``SmtpDelivery``), claiming ``batch`` messages at a time for ``lease``.

    The lease must outlast the delivery of a whole batch (``batch`` times the SMTP timeout,
    100 s by default): a message whose lease ends is claimed again by another worker.
    ``delivered``, ``failed`` (attempts that failed), ``dead`` and ``discarded`` (decoys
    dropped, LE-07) count since start.
    """

    def __init__(
        self,
        store: Any,
        delivery: Mailer,
        *,
        clock: Clock | None = None,
        name: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 10,
        poll_interval: float = 2.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        hold: float = 0.05,
    ) -> None:
        _require_outbox(store)
        if batch < 1 or poll_interval <= 0 or lease <= timedelta(0):
            raise ValueError("batch, poll_interval and lease must be positive")
        self.store = store
        self.delivery = delivery
        self.clock = clock or SystemClock()
        self.name = name or _worker_name()
        self.lease = lease
        self.batch = batch
        self.poll_interval = poll_interval
        #: seconds a new message waits before its delivery starts (LE-07, see run_once)
        self.hold = hold
        self.retry_delays = tuple(retry_delays)
        self.delivered = 0
        self.failed = 0
        self.dead = 0
        self.discarded = 0
        self.background = Background(f"doorward-mail-worker {self.name}")

    async def run_once(self) -> int:
        """Claim one batch of due messages and handle each; return how many were claimed.

        A batch holding a message younger than ``hold`` waits until it is that old, so the
        SMTP exchange never runs during the request that wrote the mail: its CPU would show
        in that request's timing for an address with an account, and not for one without
        (LE-07).
        """
        claimed = await self.store.claim_mail(self.name, self.clock.now(), self.lease, self.batch)
        if claimed and self.hold > 0:
            newest = max(message.created_at for message in claimed)
            wait = min(self.hold, self.hold - (self.clock.now() - newest).total_seconds())
            if wait > 0:
                await pause(wait)
        for message in claimed:
            await self._handle(message)
        return len(claimed)

    async def drain(self) -> int:
        """Handle due messages until none is left; return how many were claimed."""
        total = 0
        while True:
            handled = await self.run_once()
            if not handled:
                return total
            total += handled

    async def run(self) -> None:
        """Deliver until ``stop``: a batch at a time, sleeping ``poll_interval`` when idle.

        A store that fails is logged and tried again after the pause.
        """
        while not self.background.stopping:
            try:
                handled = await self.run_once()
            except Exception as exc:  # noqa: BLE001 (a store outage must not end the worker)
                logger.error(  # noqa: TRY400 (no traceback: driver errors may quote values)
                    "doorward: the mail worker could not claim mail: %s", type(exc).__name__
                )
                handled = 0
            if not handled:
                await self.background.sleep(self.poll_interval)

    def retry_delay(self, attempts: int) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; ``None``: dead."""
        if 1 <= attempts <= len(self.retry_delays):
            return self.retry_delays[attempts - 1]
        return None

    async def _handle(self, message: OutboxMessage) -> None:
        if message.decoy:
            await self.store.mark_sent(message.id, self.name, self.clock.now())
            self.discarded += 1
            return
        try:
            await run_blocking(self.delivery.send, mail_of(message))
        except Exception as exc:  # noqa: BLE001 (a mailer's fault is recorded, never raised)
            await self._failed(message, type(exc).__name__)
            return
        if not await self.store.mark_sent(message.id, self.name, self.clock.now()):
            logger.warning(
                "doorward: %s mail %s was delivered after its lease ended; another worker "
                "may deliver it again (lengthen the lease)",
                message.kind or "a",
                message.id,
            )
        self.delivered += 1

    async def _failed(self, message: OutboxMessage, error: str) -> None:
        self.failed += 1
        delay = self.retry_delay(message.attempts)
        when = None if delay is None else self.clock.now() + timedelta(seconds=delay)
        await self.store.mark_failed(message.id, self.name, error, when)
        if delay is None:
            self.dead += 1
            logger.error(
                "doorward: %s mail %s is dead after %d attempts (%s); "
                "`doorward mail retry %s` sends it again",
                message.kind or "a",
                message.id,
                message.attempts,
                error,
                message.id,
            )
        else:
            logger.warning(
                "doorward: %s mail %s not delivered (attempt %d: %s); next attempt in %d s",
                message.kind or "a",
                message.id,
                message.attempts,
                error,
                delay,
            )

    def start(self) -> None:
        """Run ``run`` in the background (a thread on the sync face, a task on the async
        face: call it inside the running loop); a no-op while it runs."""
        if not self.background.running():
            self.background.start(self.run)

    def wake(self) -> None:
        """Look for due mail now rather than after the pause."""
        self.background.wake()

    async def stop(self, grace: float = 30.0) -> bool:
        """Finish the message in hand and stop; ``False`` if that took over ``grace`` s
        (its lease then lets another worker deliver it)."""
        return await self.background.stop(grace)


class AsyncOutboxMailer:
    """A mailer that stores each mail in ``store``'s outbox (``MailOutbox`` capability);
    ``worker`` (an ``AsyncMailWorker`` over ``delivery``) delivers it.

    Decoys (LE-07) are stored like any mail, one insert on both paths, and the worker
    drops them instead of delivering. ``send`` raises the store's ``StoreUnavailable``
    when the insert fails (the flows log it, FT-02). ``worker_options`` go to the worker
    (``lease``, ``batch``, ``poll_interval``, ``retry_delays``, ``name``).
    """

    accepts_decoys = True

    def __init__(
        self,
        store: Any,
        delivery: Mailer,
        *,
        clock: Clock | None = None,
        background: bool = True,
        **worker_options: Any,
    ) -> None:
        _require_outbox(store)
        self.store = store
        self.delivery = delivery
        self.clock = clock or SystemClock()
        self.background = background
        self.worker = AsyncMailWorker(store, delivery, clock=self.clock, **worker_options)
        self._pid = os.getpid()
        self._closed = False

    @classmethod
    def from_url(cls, store: Any, url: str, **options: Any) -> AsyncOutboxMailer:
        """Deliver through the SMTP server of ``url`` (as ``mailer_from_url`` reads it)."""
        return cls(store, SmtpDelivery(SmtpConfig.from_url(url)), **options)

    async def send(self, mail: Mail) -> None:
        """Store the mail in the outbox and wake this process's worker."""
        now = self.clock.now()
        message = OutboxMessage(
            id=uuid.uuid4().hex,
            kind=mail.kind,
            to=mail.to,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            created_at=now,
            next_attempt_at=now,
            decoy=mail.decoy,
        )
        await self.store.enqueue_mail(message)
        if self.background and not self._closed:
            self.start()
            self.worker.wake()

    def start(self) -> None:
        """Start this process's background worker (again after a fork); a no-op while it
        runs, or with ``background=False``."""
        if not self.background or self._closed:
            return
        if self._pid != os.getpid():  # a forked child: the parent's worker is not ours
            self._pid = os.getpid()
            self.worker = AsyncMailWorker(
                self.store,
                self.delivery,
                clock=self.clock,
                lease=self.worker.lease,
                batch=self.worker.batch,
                poll_interval=self.worker.poll_interval,
                retry_delays=self.worker.retry_delays,
                hold=self.worker.hold,
            )
        if not self.worker.background.running():
            self.worker.start()
            if not self.worker.background.running():  # pragma: no cover (start failed)
                return
            atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        self._closed = True
        self.worker.background.stopping = True
        self.worker.background.wake()

    async def close(self, grace: float = 30.0) -> bool:
        """Stop the background worker after the message in hand; later sends still store
        mail (another process delivers it). ``False`` if it took over ``grace`` s."""
        self._closed = True
        return await self.worker.stop(grace)

    # -- the operator's view (``doorward mail ...``) -----------------------------------------

    async def list_mail(
        self, state: OutboxState | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        """The outbox's messages (of ``state``), oldest first."""
        found: list[OutboxMessage] = await self.store.list_mail(state, limit)
        return found

    async def retry_mail(self, message_ids: Iterable[str] | None) -> int:
        """Send these dead messages (every dead one with ``None``) again, from now."""
        count: int = await self.store.retry_mail(message_ids, self.clock.now())
        if count and self.background and not self._closed:
            self.worker.wake()
        return count

    async def purge_sent(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete messages sent more than ``older_than`` ago; return how many."""
        count: int = await self.store.purge_sent(self.clock.now() - older_than)
        return count
