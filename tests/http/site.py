"""What the HTTP contract tests need of an adapter under test.

Each adapter provides ``tests/http/site_<name>.py`` with ``make_site(settings, clock)``
returning a ``Site``: an httpx client bound to the app (WSGI or ASGI transport, base URL
``https://testserver``), the outbox its mailer writes to, and a way to arrange users.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import httpx

from doorward.clock import FrozenClock


@attrs.define
class Site:
    """An app served by one adapter, wired to an in-memory store, outbox and frozen clock."""

    name: str
    client: httpx.Client
    clock: FrozenClock
    #: the mails sent so far (``doorward.mail.Mail`` records)
    mails: Callable[[], list[Any]]
    #: ``create_user(email, password, confirmed=True, active=True, roles=())`` → the user
    create_user: Callable[..., Any]
    #: ``new_client()`` → another client on the same app (a second device)
    new_client: Callable[[], httpx.Client]
    #: ``get_user(email)`` → the stored user or None
    get_user: Callable[[str], Any]
    #: extra objects an adapter's own tests may want (the app, the auth object)
    extras: dict[str, Any] = attrs.field(factory=dict)
