"""TEMPORARY minimal redirects (replaced by the policies branch)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote, urlsplit


def safe_redirect(target: object, *, fallback: str, allowed_hosts: Collection[str] = ()) -> str:
    if not isinstance(target, str) or not target:
        return fallback
    decoded = unquote(target)
    if "\\" in decoded or any(ord(c) < 33 for c in decoded):
        return fallback
    if decoded.startswith("/") and not decoded.startswith("//"):
        return target
    parts = urlsplit(decoded)
    if parts.scheme in {"http", "https"} and parts.hostname in allowed_hosts and not parts.username:
        return target
    return fallback
