"""Where a browser may be sent after a form: never off-site unless allow-listed (CR-04)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote, urlsplit

__all__ = ["safe_redirect"]

_MAX = 2048


def safe_redirect(target: object, *, fallback: str, allowed_hosts: Collection[str] = ()) -> str:
    """``target`` if it is safe to redirect to, else ``fallback``.

    Safe means a same-origin relative path (one leading ``/``, then not ``/`` or ``\\``)
    or an absolute http(s) URL without credentials whose host is in ``allowed_hosts``.
    The check runs on the text and on its percent-decoded form, and refuses backslashes,
    control characters and whitespace anywhere, since browsers "fix" them into hosts.
    The ``Referer`` is never a candidate (CR-05).
    """
    if not isinstance(target, str) or not target or len(target) > _MAX:
        return fallback
    for form in (target, unquote(target)):
        if "\\" in form or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in form):
            return fallback
    decoded = unquote(target)
    if decoded.startswith("/"):
        return target if not decoded.startswith("//") else fallback
    parts = urlsplit(decoded)
    if (
        parts.scheme in {"http", "https"}
        and parts.hostname is not None
        and parts.hostname in allowed_hosts
        and parts.username is None
        and parts.password is None
    ):
        return target
    return fallback
