"""Mail off the request path: the queue returns at once, one thread delivers, nothing is lost
silently (a full queue refuses, a failing server is retried then logged), close delivers."""

import asyncio
import io
import logging
import socket
import threading
import time

import attrs
import pytest

from doorward._smtp import SmtpConfig, SmtpDelivery
from doorward.exceptions import MailerUnavailable
from doorward.mail import Mail
from doorward.queued import AsyncQueuedMailer, QueuedMailer
from doorward.testing.smtp import SmtpServer


def mail(n: int = 0) -> Mail:
    return Mail(
        to=f"user{n}@example.com",
        subject="Confirm",
        text=f"https://auth.example.com/confirm/{n}",
        kind="confirm",
    )


class Gate:
    """A sync mailer that holds every delivery until released."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.sent: list[Mail] = []

    def send(self, message: Mail) -> None:
        assert self.open.wait(10)
        self.sent.append(message)


class Flaky:
    """A sync mailer that fails a given number of times first."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def send(self, message: Mail) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise MailerUnavailable


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_send_returns_while_the_server_is_slow():
    """A request enqueues and moves on; the thread delivers in order once the server answers."""
    gate = Gate()
    mailer = QueuedMailer(gate)
    start = time.perf_counter()
    for n in range(3):
        mailer.send(mail(n))
    assert time.perf_counter() - start < 1.0
    assert mailer.pending() == 3
    assert gate.sent == []
    gate.open.set()
    assert mailer.flush(timeout=10)
    assert [m.to for m in gate.sent] == [f"user{n}@example.com" for n in range(3)]
    assert (mailer.delivered, mailer.failed) == (3, 0)
    mailer.close()


def test_a_full_queue_refuses_at_once():
    """Beyond ``max_queued`` mails in hand, ``send`` raises MailerUnavailable: nothing is dropped silently."""
    gate = Gate()
    mailer = QueuedMailer(gate, max_queued=2)
    mailer.send(mail(0))
    mailer.send(mail(1))
    with pytest.raises(MailerUnavailable):
        mailer.send(mail(2))
    gate.open.set()
    assert mailer.close(timeout=10)
    assert len(gate.sent) == 2


def test_failures_are_retried_then_logged_without_the_address(caplog):
    """A failing delivery is retried; one that keeps failing is counted and logged by kind only."""
    flaky = Flaky(failures=1)
    mailer = QueuedMailer(flaky, attempts=3, retry_delay=0.01)
    mailer.send(mail(0))
    assert mailer.flush(timeout=10)
    assert (flaky.calls, mailer.delivered, mailer.failed) == (2, 1, 0)
    broken = QueuedMailer(Flaky(failures=99), attempts=2, retry_delay=0.01)
    with caplog.at_level(logging.ERROR, logger="doorward.mail"):
        broken.send(mail(7))
        assert broken.flush(timeout=10)
    assert (broken.delivered, broken.failed) == (0, 1)
    assert "confirm mail not delivered after 2 attempts" in caplog.text
    assert "user7@example.com" not in caplog.text
    mailer.close()
    broken.close()


def test_close_delivers_what_is_queued_then_refuses():
    """``close`` waits for the queue; a send after it is refused."""
    gate = Gate()
    mailer = QueuedMailer(gate)
    mailer.send(mail(0))
    threading.Timer(0.05, gate.open.set).start()
    assert mailer.close(timeout=10)
    assert len(gate.sent) == 1
    with pytest.raises(MailerUnavailable):
        mailer.send(mail(1))


def test_queued_smtp_delivers_through_a_real_server():
    """Through aiosmtpd on loopback: queued, then delivered by the thread."""
    with SmtpServer() as smtp:
        config = SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com")
        mailer = QueuedMailer(SmtpDelivery(config))
        mailer.send(mail(1))
        assert mailer.flush(timeout=10)
        (message,) = smtp.wait_for(1)
    assert message["To"] == "user1@example.com"
    assert message["X-Doorward-Mail"] == "confirm"
    mailer.close()


def test_ft02_server_down_costs_the_request_nothing():
    """With the SMTP server down, ``send`` still returns at once; the failure is counted later."""
    config = SmtpConfig(host="127.0.0.1", port=closed_port(), sender="auth@example.com")
    mailer = QueuedMailer(SmtpDelivery(config), attempts=2, retry_delay=0.01)
    mailer.send(mail(2))
    assert mailer.flush(timeout=10)
    assert mailer.failed == 1
    mailer.close()


@pytest.mark.asyncio
async def test_async_face_enqueues_without_awaiting_the_network():
    """On the async face ``send`` returns while delivery is held; ``aclose`` delivers."""
    gate = Gate()
    mailer = AsyncQueuedMailer(gate)
    await asyncio.wait_for(mailer.send(mail(3)), timeout=1)
    assert mailer.queue.pending() == 1
    gate.open.set()
    assert await mailer.aclose()
    assert [m.to for m in gate.sent] == ["user3@example.com"]


def test_le07_decoys_are_queued_and_dropped_by_the_thread():
    """A decoy is enqueued like any mail (equal request work) and never reaches the wrapped
    mailer; it is counted as discarded, not delivered."""
    gate = Gate()
    gate.open.set()
    queue = QueuedMailer(gate)
    decoy = attrs.evolve(mail(1), decoy=True)
    queue.send(decoy)
    queue.send(mail(2))
    assert queue.close()
    assert [m.to for m in gate.sent] == ["user2@example.com"]
    assert (queue.delivered, queue.discarded, queue.failed) == (1, 1, 0)
    assert QueuedMailer.accepts_decoys
    assert AsyncQueuedMailer.accepts_decoys


def test_le07_console_and_outbox_never_deliver_decoys():
    """The console mailer prints no decoy and the outbox only counts them."""
    from doorward._sync.mailers import ConsoleMailer, Outbox, SmtpMailer

    stream = io.StringIO()
    ConsoleMailer(stream).send(attrs.evolve(mail(1), decoy=True))
    assert stream.getvalue() == ""
    outbox = Outbox()
    outbox.send(attrs.evolve(mail(1), decoy=True))
    assert (outbox.messages, outbox.decoys) == ([], 1)
    assert not getattr(SmtpMailer, "accepts_decoys", False)


class Stamps:
    """A sync mailer noting when each delivery began (monotonic seconds)."""

    def __init__(self) -> None:
        self.began: list[float] = []

    def send(self, message: Mail) -> None:
        self.began.append(time.monotonic())


def test_le07_delivery_never_starts_during_the_request_that_queued_it():
    """A mail's SMTP exchange starts no sooner than ``hold`` after ``send``: its CPU would
    otherwise land in the very request that asked for it, and only for an address with an
    account (measured: +2.1-2.7 ms without the hold, bench/timing.py --hold 0)."""
    stamps = Stamps()
    queue = QueuedMailer(stamps, hold=0.2)
    sent_at = time.monotonic()
    queue.send(mail())
    assert queue.flush(5)
    assert stamps.began[0] - sent_at >= 0.2
    queue.close()
    eager = Stamps()
    busy = QueuedMailer(eager, hold=0.2)
    for i in range(5):
        busy.send(mail(i))
    assert busy.flush(5)
    # a backlog is not slowed: mails queued together start together once they are old enough
    assert eager.began[-1] - eager.began[0] < 0.2
    busy.close()
