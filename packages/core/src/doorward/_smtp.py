"""SMTP delivery with the standard library, shared by both faces of the SMTP mailer."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from doorward.exceptions import ConfigurationError, MailerUnavailable
from doorward.mail import Mail

logger = logging.getLogger("doorward.mail")

Security = Literal["none", "starttls", "ssl"]
_SCHEMES: dict[str, Security] = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "ssl"}
#: what an SMTP URL's query may carry (``queue`` is read by ``mailer_from_url``)
_QUERY_PARAMETERS = frozenset({"from", "timeout", "queue"})


@attrs.frozen(kw_only=True)
class SmtpConfig:
    """Where and how to deliver."""

    host: str
    port: int
    sender: str
    security: Security = "none"
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 10.0

    def __attrs_post_init__(self) -> None:
        if any(ch in self.sender for ch in "\r\n") or "@" not in self.sender:
            raise ConfigurationError("the mail sender must be one address without line breaks")
        if self.security not in {"none", "starttls", "ssl"}:
            raise ConfigurationError("security must be 'none', 'starttls' or 'ssl'")

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://host:25?from=a@x``, ``smtp+starttls://user:pw@host:587?from=...``, ``smtps://...``."""
        parts = urlsplit(url)
        security = _SCHEMES.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ConfigurationError(f"not an SMTP URL: {parts.scheme}://...")
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - _QUERY_PARAMETERS)
        if unknown:
            # an ignored ?starttls=1 would quietly send mail in the clear
            raise ConfigurationError(
                f"unknown SMTP URL parameter {', '.join(unknown)}: the URL takes "
                f"{', '.join(sorted(_QUERY_PARAMETERS))} (TLS is the scheme: "
                "smtp+starttls:// or smtps://)"
            )
        sender = query.get("from", [f"no-reply@{parts.hostname}"])[0]
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            sender=sender,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", ["10"])[0]),
        )


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """A multipart/alternative message (text, then HTML when there is one)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    if mail.kind:
        message["X-Doorward-Mail"] = mail.kind
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def deliver(config: SmtpConfig, mail: Mail, context: ssl.SSLContext | None = None) -> None:
    """Send one message; any failure becomes ``MailerUnavailable`` (details only in the log)."""
    message = build_message(mail, config.sender)
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.username is not None:
                client.login(config.username, config.password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning(
            "doorward: SMTP delivery of a %s mail via %s:%s failed: %s",
            mail.kind or "mail",
            config.host,
            config.port,
            type(exc).__name__,
        )
        raise MailerUnavailable from None


class SmtpDelivery:
    """A sync mailer over ``deliver``: what a ``QueuedMailer``'s thread sends with."""

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.ssl_context = ssl_context

    def send(self, mail: Mail) -> None:
        """Deliver now; raises ``MailerUnavailable`` when the server cannot be used."""
        deliver(self.config, mail, self.ssl_context)
