# Generated from packages/core/src/doorward/_async/mailers.py by scripts/unasync.py. Do not edit: edit the source.
"""The mailers: console (the demo default), SMTP, and an in-memory outbox for tests.

``mailer_from_url`` picks one from a URL: ``console://``, ``memory://``,
``smtp://host:port?from=...``, ``smtp+starttls://user:pass@host:587?from=...`` or
``smtps://...``. SMTP URLs give a queued mailer (``doorward.queued``): requests only
enqueue and one thread delivers, so no request waits on the mail server; ``?queue=0``
sends inline instead (the async SMTP mailer then runs smtplib in a worker thread, so the
event loop still never waits on the network).
"""

from __future__ import annotations

import re
import ssl
import sys
import threading
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from doorward._sync._io import run_blocking
from doorward._sync.protocols import Mailer
from doorward._smtp import SmtpConfig, SmtpDelivery, deliver
from doorward.exceptions import ConfigurationError
from doorward.mail import Mail
from doorward.queued import QueuedMailer

__all__ = ["ConsoleMailer", "Outbox", "SmtpMailer", "mailer_from_url"]

_LINK = re.compile(r"https?://\S+")


class ConsoleMailer:
    """Prints each mail (recipient, subject, text) so links show up in the terminal."""

    accepts_decoys = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        """Write the mail to the stream (stdout by default); a decoy is dropped."""
        if mail.decoy:
            return
        out = self.stream or sys.stdout
        rule = "-" * 72
        with self._lock:
            out.write(f"{rule}\nTo: {mail.to}\nSubject: {mail.subject}\n\n{mail.text}\n{rule}\n")
            out.flush()


class Outbox:
    """Keeps sent mail in memory (thread-safe), for tests; decoys are counted, not kept."""

    accepts_decoys = True

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.decoys = 0
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        """Keep the mail (count a decoy)."""
        with self._lock:
            if mail.decoy:
                self.decoys += 1
            else:
                self.messages.append(mail)

    def clear(self) -> None:
        """Forget every mail."""
        with self._lock:
            self.messages.clear()

    def last_link(self, to: str, kind: str | None = None) -> str | None:
        """The first link of the newest mail to ``to`` (of ``kind``, if given)."""
        with self._lock:
            for mail in reversed(self.messages):
                if mail.to == to and kind in (None, mail.kind):
                    match = _LINK.search(mail.text)
                    return match.group(0) if match else None
        return None


class SmtpMailer:
    """Sends through an SMTP server (plain, STARTTLS or SSL, optional login).

    It takes no decoys (LE-07): sending inline, it could only skip them, which a clock
    would see; the queued mailer (the default for SMTP URLs) evens the work out.
    """

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.ssl_context = ssl_context

    def send(self, mail: Mail) -> None:
        """Deliver; raises ``MailerUnavailable`` when the server cannot be used."""
        run_blocking(deliver, self.config, mail, self.ssl_context)


def mailer_from_url(url: str) -> Mailer:
    """A mailer for ``console://``, ``memory://`` or an SMTP URL (queued unless ``?queue=0``)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "console":
        return ConsoleMailer()
    if scheme == "memory":
        return Outbox()
    if scheme in {"smtp", "smtp+starttls", "smtps"}:
        config = SmtpConfig.from_url(url)
        if parse_qs(urlsplit(url).query).get("queue", ["1"])[0] in {"0", "false", "no"}:
            return SmtpMailer(config)
        return QueuedMailer(SmtpDelivery(config))
    raise ConfigurationError("the mail URL must be console://, memory:// or smtp[s]://...")
