"""Where a ``next`` parameter may send the browser: same-origin paths or allow-listed hosts.

Browsers are lenient with URLs: they treat ``\\`` like ``/``, drop tabs and line breaks
anywhere, strip leading spaces, and read ``//host`` as another site. So a target is taken
only when it passes strict rules both as given and after every round of percent-decoding
(CR-04); anything else yields the caller's fallback.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["safe_redirect"]

#: Targets longer than this are refused outright.
MAX_TARGET_LENGTH = 2048
#: Percent-decoding rounds to check; a target still changing after these is refused.
_DECODE_ROUNDS = 3


def _plain(text: str) -> bool:
    """No backslash, no leading space, and no character but printable ones and ``" "``.

    ``str.isprintable`` is false for controls (tab, CR, LF...), format characters, line
    and paragraph separators, spaces other than U+0020, surrogates and unassigned points.
    """
    if "\\" in text or text[:1].isspace():
        return False
    return all(ch.isprintable() or ch == " " for ch in text)


def _split(text: str) -> SplitResult | None:
    """``urlsplit``, or ``None`` for what it cannot parse (``"https://["``)."""
    try:
        return urlsplit(text)
    except ValueError:
        return None


def _relative_ok(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    parts = _split(text)
    return parts is not None and not parts.scheme and not parts.netloc


def _absolute_ok(text: str, hosts: frozenset[str]) -> bool:
    if not hosts:
        return False
    parts = _split(text)
    if parts is None or parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return False
    if "@" in parts.netloc or not text.lower().startswith(parts.scheme.lower() + "://"):
        return False
    netloc = parts.netloc.lower()
    try:
        port = parts.port
    except ValueError:
        return False
    return netloc in hosts or (port is None and parts.hostname in hosts)


def _safe(text: str, hosts: frozenset[str]) -> bool:
    return _plain(text) and (_relative_ok(text) or _absolute_ok(text, hosts))


def safe_redirect(target: object, *, fallback: str, allowed_hosts: Collection[str] = ()) -> str:
    """Return ``target`` when it is safe to redirect to, else ``fallback``.

    Safe means either a same-origin path (one ``/`` followed by anything but ``/`` or
    ``\\``) or an absolute ``http``/``https`` URL without credentials whose host is one of
    ``allowed_hosts`` (compared exactly, case-insensitively; an entry ``"host:port"``
    allows that port, a bare host allows only the default port). In both cases the
    target has no backslash, no control character, no leading whitespace, and stays
    safe after each round of percent-decoding. ``fallback`` is trusted and returned as given.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET_LENGTH:
        return fallback
    hosts = frozenset(host.lower() for host in allowed_hosts)
    current = target
    for _ in range(_DECODE_ROUNDS):
        if not _safe(current, hosts):
            return fallback
        decoded = unquote(current)
        if decoded == current:
            return target
        current = decoded
    return fallback
