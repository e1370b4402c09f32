"""TEMPORARY minimal policies (replaced by the policies branch)."""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Iterable
from typing import Protocol

import email_validator

from doorward.exceptions import PasswordRejected, ValidationFailed
from doorward.settings import Settings


class BreachChecker(Protocol):
    def is_breached(self, password: str) -> bool: ...


def normalize_email(raw: object, *, max_length: int = 254, field: str = "email") -> tuple[str, str]:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > max_length:
        raise ValidationFailed({field: ["Enter a valid email address."]})
    text = unicodedata.normalize("NFKC", raw.strip())
    if any(ord(c) < 32 or c in ",;<> " for c in text):
        raise ValidationFailed({field: ["Enter a valid email address."]})
    try:
        info = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise ValidationFailed({field: ["Enter a valid email address."]}) from None
    return info.normalized, info.normalized.casefold()


def prepare_password(raw: object, *, max_length: int, field: str = "password") -> str:
    if not isinstance(raw, str):
        raise ValidationFailed({field: ["Enter a password."]})
    if len(raw) > max_length * 4:
        raise ValidationFailed({field: ["The password is too long."]})
    text = unicodedata.normalize("NFKC", raw)
    if len(text) > max_length:
        raise ValidationFailed({field: ["The password is too long."]})
    return text


def check_new_password(
    raw: object,
    settings: Settings,
    *,
    context: Iterable[str] = (),
    breach_checker: BreachChecker | None = None,
) -> str:
    text = prepare_password(raw, max_length=settings.password_max_length)
    lowered = text.casefold()
    if any(word and word.casefold() == lowered for word in context):
        raise PasswordRejected(["Do not use your email address as the password."])
    if breach_checker is not None and breach_checker.is_breached(text):
        raise PasswordRejected(["This password appears in a breach; choose another."])
    if len(text) < settings.password_min_length:
        raise PasswordRejected([f"Use at least {settings.password_min_length} characters."])
    return text


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxy_count: int
) -> str | None:
    if trusted_proxy_count and forwarded_for:
        parts = [p.strip() for p in forwarded_for.split(",")]
        if len(parts) >= trusted_proxy_count:
            candidate = parts[-trusted_proxy_count]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote_addr
