"""TEMPORARY minimal mailers (replaced by the mailers branch)."""

from __future__ import annotations

import sys
import threading

from doorward.mail import Mail


class AsyncConsoleMailer:
    async def send(self, mail: Mail) -> None:
        sys.stdout.write(f"To: {mail.to}\nSubject: {mail.subject}\n\n{mail.text}\n")


class AsyncOutbox:
    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._lock = threading.Lock()

    async def send(self, mail: Mail) -> None:
        with self._lock:
            self.messages.append(mail)
