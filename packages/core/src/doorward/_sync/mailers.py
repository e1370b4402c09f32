# Generated from packages/core/src/doorward/_async/mailers.py by scripts/unasync.py. Do not edit: edit the source.
"""TEMPORARY minimal mailers (replaced by the mailers branch)."""

from __future__ import annotations

import sys
import threading

from doorward.mail import Mail


class ConsoleMailer:
    def send(self, mail: Mail) -> None:
        sys.stdout.write(f"To: {mail.to}\nSubject: {mail.subject}\n\n{mail.text}\n")


class Outbox:
    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        with self._lock:
            self.messages.append(mail)
