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


_SUBJECTS = {
    "confirm": "Confirm your email address",
    "existing_account": "Someone tried to register with your address",
    "reset": "Reset your password",
    "password_changed": "Your password was changed",
    "change_email": "Confirm your new email address",
    "email_changed": "Your email address was changed",
    "account_locked": "Your account was locked",
}


class MailTemplates:
    """TEMPORARY minimal templates (replaced by the mailers branch)."""


def render_mail(kind: str, *, to: str, context: dict[str, str], templates: MailTemplates) -> Mail:
    del templates
    text = f"{_SUBJECTS[kind]}\n\n{context.get('link', '')}\n"
    return Mail(to=to, subject=_SUBJECTS[kind], text=text, kind=kind)
