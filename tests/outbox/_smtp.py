"""aiosmtpd servers for the outbox tests: one that counts deliveries per subject and can be
stopped and started again on its port, and one whose first delivery hangs."""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

from aiosmtpd.controller import Controller

from doorward.testing.smtp import _free_port


class CountingServer:
    """Counts each message received by its ``Subject``; ``stop``/``start`` make an outage."""

    def __init__(self, port: int | None = None, *, hang_first: bool = False) -> None:
        self.port = port or _free_port()
        self.received: collections.Counter[str] = collections.Counter()
        self.recipients: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.hang_first = hang_first
        self.hung = threading.Event()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        subject = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.startswith("Subject: ") and not subject:
                subject = line.removeprefix("Subject: ").strip()
        if self.hang_first and not self.hung.is_set():
            self.hung.set()
            await asyncio.sleep(3600)  # a delivery that never ends: its worker is killed
        with self.lock:
            self.received[subject] += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 OK"

    def start(self) -> CountingServer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())

    def by_recipient(self) -> dict[str, int]:
        with self.lock:
            return dict(self.recipients)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.received)
