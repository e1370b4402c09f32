"""Console, outbox and SMTP mailers, both faces, against a real SMTP server on loopback."""

import asyncio
import io
import socket

import pytest

from doorward._async.mailers import AsyncSmtpMailer
from doorward._async.mailers import mailer_from_url as async_mailer_from_url
from doorward._smtp import SmtpConfig
from doorward._sync.mailers import ConsoleMailer, Outbox, SmtpMailer, mailer_from_url
from doorward.exceptions import ConfigurationError, MailerUnavailable
from doorward.mail import Mail
from doorward.queued import AsyncQueuedMailer, QueuedMailer
from doorward.testing.smtp import SmtpServer

MAIL = Mail(
    to="alice@example.com",
    subject="Reset your password",
    text="Open https://auth.example.com/auth/reset/abc now",
    html='<a href="https://auth.example.com/auth/reset/abc">reset</a>',
    kind="reset",
)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_console_mailer_prints_the_link():
    """The console mailer writes recipient, subject and text with the link."""
    out = io.StringIO()
    ConsoleMailer(out).send(MAIL)
    assert "To: alice@example.com" in out.getvalue()
    assert "https://auth.example.com/auth/reset/abc" in out.getvalue()


def test_outbox_keeps_mail_and_finds_links():
    """The outbox keeps every mail and returns the first link of the newest one to an address."""
    outbox = Outbox()
    outbox.send(MAIL)
    assert outbox.messages == [MAIL]
    assert outbox.last_link("alice@example.com") == "https://auth.example.com/auth/reset/abc"
    assert outbox.last_link("bob@example.com") is None
    outbox.clear()
    assert outbox.messages == []


def test_smtp_sync_delivers_multipart():
    """The sync SMTP mailer delivers a text+HTML message with the right headers."""
    with SmtpServer() as smtp:
        SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com")).send(
            MAIL
        )
        (message,) = smtp.wait_for(1)
    assert message["To"] == "alice@example.com"
    assert message["From"] == "auth@example.com"
    assert message["Subject"] == "Reset your password"
    assert "https://auth.example.com/auth/reset/abc" in SmtpServer.text_of(message)
    assert message.get_body(preferencelist=("html",)) is not None


@pytest.mark.asyncio
async def test_smtp_async_delivers_without_blocking_the_loop():
    """The async SMTP mailer delivers while a ticker on the loop keeps running."""
    with SmtpServer() as smtp:
        mailer = AsyncSmtpMailer(
            SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com")
        )
        ticks = 0
        done = False

        async def ticker():
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.gather(*(mailer.send(MAIL) for _ in range(3)))
        done = True
        await task
        await asyncio.to_thread(smtp.wait_for, 3)
    assert ticks > 3
    assert smtp.first_link(to="alice@example.com") == "https://auth.example.com/auth/reset/abc"


def test_smtp_down_raises_mailer_unavailable_sync():
    """A closed port gives MailerUnavailable with no server detail in the message."""
    mailer = SmtpMailer(
        SmtpConfig(host="127.0.0.1", port=closed_port(), sender="a@x.org", timeout=2)
    )
    with pytest.raises(MailerUnavailable) as info:
        mailer.send(MAIL)
    assert "127.0.0.1" not in str(info.value)


@pytest.mark.asyncio
async def test_smtp_down_raises_mailer_unavailable_async():
    """The async face raises MailerUnavailable too."""
    mailer = AsyncSmtpMailer(
        SmtpConfig(host="127.0.0.1", port=closed_port(), sender="a@x.org", timeout=2)
    )
    with pytest.raises(MailerUnavailable):
        await mailer.send(MAIL)


def test_starttls_refused_by_plain_server_is_unavailable():
    """Asking for STARTTLS from a server that does not offer it fails cleanly."""
    with SmtpServer() as smtp:
        mailer = SmtpMailer(
            SmtpConfig(host="127.0.0.1", port=smtp.port, sender="a@x.org", security="starttls")
        )
        with pytest.raises(MailerUnavailable):
            mailer.send(MAIL)


def test_mailer_from_url():
    """URLs pick the mailer; SMTP URLs carry security, credentials, port and sender."""
    assert isinstance(mailer_from_url("console://"), ConsoleMailer)
    assert isinstance(mailer_from_url("memory://"), Outbox)
    smtp = mailer_from_url("smtp+starttls://user:p%40ss@mail.example.com?from=auth@example.com")
    assert isinstance(smtp, QueuedMailer)
    config = smtp.mailer.config
    assert (
        config.host,
        config.port,
        config.security,
        config.username,
        config.password,
        config.sender,
    ) == ("mail.example.com", 587, "starttls", "user", "p@ss", "auth@example.com")
    assert mailer_from_url("smtps://mail.example.com?queue=0").config.port == 465
    assert isinstance(mailer_from_url("smtp://localhost:2525?queue=0"), SmtpMailer)
    assert isinstance(async_mailer_from_url("smtp://localhost:2525"), AsyncQueuedMailer)
    assert isinstance(async_mailer_from_url("smtp://localhost:2525?queue=0"), AsyncSmtpMailer)
    for bad in ("http://x", "nonsense", "smtp://"):
        with pytest.raises(ConfigurationError):
            mailer_from_url(bad)


def test_unknown_smtp_url_parameter_is_refused():
    """``?starttls=1`` is no way to ask for TLS (the scheme is): an ignored parameter would
    quietly send mail in the clear, so any parameter the URL does not take is refused."""
    with pytest.raises(ConfigurationError, match="starttls"):
        mailer_from_url("smtp://mail.example.com:587?starttls=1&from=auth@example.com")
    with pytest.raises(ConfigurationError, match="sender"):
        async_mailer_from_url("smtp://mail.example.com?sender=auth@example.com")


def test_sender_with_line_break_refused():
    """A sender with CR/LF cannot be configured."""
    with pytest.raises(ConfigurationError):
        SmtpConfig(host="h", port=25, sender="a@x.org\r\nBcc: b@y.org")
