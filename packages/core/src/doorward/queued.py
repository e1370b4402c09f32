"""Mail off the request path: a bounded queue and one delivery thread, for both faces.

    mailer = QueuedMailer(SmtpDelivery(config))        # Flask
    mailer = AsyncQueuedMailer(SmtpDelivery(config))   # Starlette: the loop only enqueues

``mailer_from_url("smtp://...")`` builds these by default (``?queue=0`` sends inline).
``send`` only enqueues, so a request never waits on the mail server, and it raises
``MailerUnavailable`` at once when the queue is full. One thread delivers in order through
the wrapped sync mailer, retrying a failed delivery with a growing pause; a mail that
still fails is logged (its kind and the error, never the address) and counted in
``failed``. ``close`` delivers what is queued; it also runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time

from doorward._async._io import run_blocking
from doorward._sync.protocols import Mailer
from doorward.exceptions import MailerUnavailable
from doorward.mail import Mail

__all__ = ["AsyncQueuedMailer", "QueuedMailer"]

logger = logging.getLogger("doorward.mail")


class QueuedMailer:
    """A ``Mailer`` whose ``send`` returns at once; a thread delivers through ``mailer``.

    Decoys (``mail.decoy``, LE-07) are queued like any mail, so the request does the same
    work, and dropped by the thread instead of delivered.
    """

    accepts_decoys = True

    def __init__(
        self,
        mailer: Mailer,
        *,
        max_queued: int = 1000,
        attempts: int = 5,
        retry_delay: float = 2.0,
        hold: float = 0.05,
    ) -> None:
        if max_queued < 1 or attempts < 1 or retry_delay < 0 or hold < 0:
            raise ValueError("max_queued and attempts must be positive, delays not negative")
        self.mailer = mailer
        #: seconds a mail waits after ``send`` before its delivery starts, so the SMTP
        #: exchange never runs during the request that queued it (its CPU would show in
        #: that request's timing for an address with an account only: LE-07)
        self.hold = hold
        self.max_queued = max_queued
        self.attempts = attempts
        self.retry_delay = retry_delay
        #: mails delivered, mails given up on, and decoys dropped (LE-07), since start
        self.delivered = 0
        self.failed = 0
        self.discarded = 0
        self._waiting: collections.deque[tuple[Mail, float]] = collections.deque()
        self._in_hand = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, mail: Mail) -> None:
        """Queue the mail; ``MailerUnavailable`` if the queue is full or closed."""
        with self._changed:
            if self._closed or len(self._waiting) + self._in_hand >= self.max_queued:
                logger.error("doorward: %s mail refused: the mail queue is full", mail.kind)
                raise MailerUnavailable
            self._waiting.append((mail, time.monotonic()))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="doorward-mail", daemon=True)
                self._thread.start()
                atexit.register(self.close)
            self._changed.notify_all()

    def pending(self) -> int:
        """How many mails are queued or being delivered."""
        with self._changed:
            return len(self._waiting) + self._in_hand

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued mail is delivered or given up; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._waiting and not self._in_hand, timeout=timeout
            )

    def close(self, timeout: float = 30.0) -> bool:
        """Deliver what is queued, then stop the thread; later sends are refused."""
        delivered_all = self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return delivered_all

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._closed)
                if not self._waiting:
                    return
                mail, queued_at = self._waiting.popleft()
                self._in_hand = 1
            wait = queued_at + self.hold - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            delivered = mail.decoy or self._deliver(mail)
            with self._changed:
                self._in_hand = 0
                if mail.decoy:
                    self.discarded += 1
                elif delivered:
                    self.delivered += 1
                else:
                    self.failed += 1
                self._changed.notify_all()

    def _deliver(self, mail: Mail) -> bool:
        for attempt in range(1, self.attempts + 1):
            try:
                self.mailer.send(mail)
            except Exception as exc:  # noqa: BLE001 (a mailer's fault must not end the thread)
                if attempt == self.attempts:
                    logger.error(  # noqa: TRY400 (no traceback: SMTP errors quote addresses)
                        "doorward: %s mail not delivered after %d attempts: %s",
                        mail.kind or "a",
                        attempt,
                        type(exc).__name__,
                    )
                    return False
                time.sleep(self.retry_delay * attempt)
            else:
                return True
        return False


class AsyncQueuedMailer:
    """The async face of ``QueuedMailer``: ``send`` enqueues without awaiting the network."""

    accepts_decoys = True

    def __init__(
        self,
        mailer: Mailer,
        *,
        max_queued: int = 1000,
        attempts: int = 5,
        retry_delay: float = 2.0,
    ) -> None:
        self.queue = QueuedMailer(
            mailer, max_queued=max_queued, attempts=attempts, retry_delay=retry_delay
        )

    async def send(self, mail: Mail) -> None:
        """Queue the mail; ``MailerUnavailable`` if the queue is full or closed."""
        self.queue.send(mail)

    async def aclose(self, grace: float = 30.0) -> bool:
        """Deliver what is queued within ``grace`` seconds (the loop keeps running), then stop."""
        return await run_blocking(self.queue.close, grace)
