"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), collecting what it receives.

with SmtpServer() as smtp:
    mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port, sender="a@x.org"))
    ...
    smtp.wait_for(1)
    link = smtp.first_link(to="alice@example.com")
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

__all__ = ["SmtpServer"]

_LINK = re.compile(r"https?://\S+")


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp_server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server in a background thread; ``messages`` are parsed EmailMessages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} mails, got {len(self.messages)}")

    def wait_for_mail(
        self, *, to: str, after: int = 0, kind: str | None = None, timeout: float = 10.0
    ) -> EmailMessage:
        """Wait for a message to ``to`` (of ``kind``, the ``X-Doorward-Mail`` header, when
        given) among those after the first ``after``; return the newest such message.

        Unlike ``wait_for``, another recipient's mail arriving first does not end the wait,
        which matters when a background outbox worker delivers an earlier request's mail late.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                messages: list[EmailMessage] = self.messages[after:]
            found = [
                m for m in messages if to in str(m["To"]) and kind in (None, m["X-Doorward-Mail"])
            ]
            if found:
                return found[-1]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no mail to {to} after the first {after}")
            time.sleep(0.02)

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        """The text/plain body of a message."""
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def first_link(self, *, to: str) -> str:
        """The first link in the newest message to ``to``."""
        with self.lock:
            for message in reversed(self.messages):
                if message["To"] == to:
                    match = _LINK.search(self.text_of(message))
                    if match:
                        return match.group(0)
        raise AssertionError(f"no mail with a link to {to}")
