"""Mail messages and their rendering from overridable templates."""

from __future__ import annotations

import attrs

__all__ = ["Mail"]


@attrs.frozen(kw_only=True)
class Mail:
    """One rendered message. ``kind`` names the template (``confirm``, ``reset`` ...)."""

    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str = ""
