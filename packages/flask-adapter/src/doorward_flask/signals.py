"""Blinker signals for every core event, named as the events (``login_succeeded`` ...).

from doorward_flask.signals import signals

@signals["login_succeeded"].connect_via(app)
def on_login(app, **fields): ...
"""

from __future__ import annotations

from typing import Any

from blinker import NamedSignal, Namespace
from flask import Flask

from doorward import Auth
from doorward.events import EVENT_NAMES

__all__ = ["connect_signals", "signals"]

_namespace = Namespace()
#: One signal per core event; the sender is the Flask app. A feature's own events get a
#: signal of the same name too: ``signals.get(name)`` or ``flask.signals`` by name.
signals: dict[str, NamedSignal] = {name: _namespace.signal(name) for name in sorted(EVENT_NAMES)}


def connect_signals(app: Flask, auth: Auth) -> None:
    """Re-emit the core's events of ``auth`` as signals sent by ``app``."""

    def forward(name: str, **fields: Any) -> None:
        _namespace.signal(name).send(app, **fields)

    auth.events.connect("*", forward)
