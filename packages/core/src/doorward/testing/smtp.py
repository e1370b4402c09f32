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
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self, TypeVar

from aiosmtpd.controller import Controller

__all__ = ["SmtpServer"]

T = TypeVar("T")
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

    def _wait(
        self, find: Callable[[list[EmailMessage]], T | None], timeout: float, failure: str
    ) -> T:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = find(list(self.messages))
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(f"{failure} (got {len(self.messages)} mails in all)")
            time.sleep(0.01)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        return self._wait(
            lambda messages: messages if len(messages) >= count else None,
            timeout,
            f"expected {count} mails",
        )

    def wait_for_mail(
        self,
        *,
        to: str,
        after: int = 0,
        kind: str | None = None,
        containing: re.Pattern[str] | None = None,
        timeout: float = 10.0,
    ) -> EmailMessage:
        """Wait for a message to ``to`` (of ``kind``, the ``X-Doorward-Mail`` header, and
        whose text matches ``containing``, when given) among those after the first
        ``after``; return the newest such message.

        Unlike ``wait_for``, another recipient's mail arriving first does not end the wait,
        which matters when a background outbox worker delivers an earlier request's mail late.
        """

        def wanted(message: EmailMessage) -> bool:
            return (
                to in str(message["To"])
                and kind in (None, message["X-Doorward-Mail"])
                and (containing is None or containing.search(self.text_of(message)) is not None)
            )

        def newest(messages: list[EmailMessage]) -> EmailMessage | None:
            found = [m for m in messages[after:] if wanted(m)]
            return found[-1] if found else None

        return self._wait(newest, timeout, f"no such mail to {to} after the first {after}")

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
