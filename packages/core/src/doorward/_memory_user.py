"""The default user class of the in-memory store, shared by both faces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import define, field

from doorward.records import USER_FIELDS

__all__ = ["MemoryUser"]


@define(kw_only=True)
class MemoryUser:
    """A user of ``MemoryStore``: every field of ``USER_FIELDS`` plus ``extra``.

    ``extra`` holds the application fields given in ``NewUser.extra`` (read them as
    ``user.extra["name"]``). An application that wants them as attributes passes its own
    class as the store's ``user_factory`` instead.
    """

    id: str
    email: str
    normalized_email: str
    password_hash: str | None
    active: bool
    confirmed_at: datetime | None
    security_stamp: str
    pending_email: str | None
    failed_logins: int
    last_failed_login_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    current_login_at: datetime | None
    last_login_ip: str | None
    current_login_ip: str | None
    login_count: int
    extra: dict[str, Any] = field(factory=dict)

    @property
    def is_authenticated(self) -> bool:
        """Always true for a stored user (Flask-Login's convention for templates)."""
        return True

    @classmethod
    def from_fields(cls, **fields: Any) -> MemoryUser:
        """Build a user from ``id`` plus ``NewUser.as_fields()``; unknown names go to ``extra``."""
        known = {name: value for name, value in fields.items() if name in USER_FIELDS}
        extra = {name: value for name, value in fields.items() if name not in USER_FIELDS}
        return cls(**known, extra=extra)
