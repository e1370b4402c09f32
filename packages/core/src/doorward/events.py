"""Named events the flows emit; every event is also logged, without secrets (IV-05).

Subscribe with ``events.connect("login_succeeded", handler)``; a handler receives the
event name and keyword fields. Handler errors are logged and never break a flow.
The Flask adapter re-emits every event as a blinker signal of the same name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["EVENT_NAMES", "Events", "Handler", "safe_for_log"]

logger = logging.getLogger("doorward")

EVENT_NAMES: frozenset[str] = frozenset(
    {
        "user_registered",
        "registration_attempt_for_existing_email",
        "confirmation_sent",
        "email_confirmed",
        "login_succeeded",
        "login_failed",
        "account_locked",
        "account_unlocked",
        "logged_out",
        "logged_out_everywhere",
        "password_reset_requested",
        "password_reset",
        "password_changed",
        "email_change_requested",
        "email_changed",
        "reauthenticated",
        "token_issued",
        "token_revoked",
        "session_revoked",
        "user_activated",
        "user_deactivated",
        "user_deleted",
        "role_added",
        "role_removed",
        "password_rehashed",
        "rate_limited",
        "mail_failed",
        "profile_updated",
    }
)

Handler = Callable[..., None]

_NEVER_LOGGED = frozenset({"password", "token", "secret", "password_hash", "stamp"})


def safe_for_log(value: object) -> str:
    """Render a value for a log line so it cannot forge new lines (IV-04)."""
    text = str(value)
    return text.encode("unicode_escape").decode("ascii")[:200]


class Events:
    """A tiny synchronous dispatcher."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._lock = threading.Lock()
        self.names: set[str] = set(EVENT_NAMES)

    def declare(self, names: Iterable[str]) -> None:
        """Make a feature's own events known, so handlers can connect to them."""
        self.names.update(names)

    def connect(self, name: str, handler: Handler) -> None:
        """Call ``handler(name, **fields)`` whenever ``name`` is emitted."""
        if name not in self.names and name != "*":
            raise ValueError(f"unknown event {name!r}")
        with self._lock:
            self._handlers.setdefault(name, []).append(handler)

    def disconnect(self, name: str, handler: Handler) -> None:
        """Stop calling ``handler`` for ``name``."""
        with self._lock:
            self._handlers.get(name, []).remove(handler)

    def emit(self, name: str, **fields: Any) -> None:
        """Log the event, then call its handlers (and the ``"*"`` handlers)."""
        level = logging.WARNING if name in {"account_locked", "mail_failed"} else logging.INFO
        if logger.isEnabledFor(level):  # the line is built only when it is written
            shown = " ".join(
                f"{key}={safe_for_log(val)}"
                for key, val in sorted(fields.items())
                if key not in _NEVER_LOGGED and key != "user"
            )
            logger.log(level, "doorward.%s %s", name, shown, extra={"doorward_event": name})
        with self._lock:
            handlers = [*self._handlers.get(name, ()), *self._handlers.get("*", ())]
        for handler in handlers:
            try:
                handler(name, **fields)
            except Exception:
                logger.exception("doorward: handler for %s failed", name)
