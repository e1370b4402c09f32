"""Mailers, both faces: console (development), SMTP (inline or queued), outbox (tests).

    from doorward.mailers import mailer_from_url, async_mailer_from_url
    mailer = mailer_from_url("smtp+starttls://user:pass@mail.example.com:587?from=no-reply@example.com")

``mailer_from_url`` builds a sync mailer (Flask), ``async_mailer_from_url`` an async one
(Starlette); an SMTP URL gives a queued mailer unless ``?queue=0``.
"""

from doorward._async.mailers import (
    AsyncConsoleMailer,
    AsyncOutbox,
    AsyncSmtpMailer,
)
from doorward._async.mailers import mailer_from_url as async_mailer_from_url
from doorward._sync.mailers import ConsoleMailer, Outbox, SmtpMailer, mailer_from_url
from doorward.mail import Mail, MailTemplates
from doorward.queued import AsyncQueuedMailer, QueuedMailer

__all__ = [
    # the async face
    "AsyncConsoleMailer",
    "AsyncOutbox",
    "AsyncQueuedMailer",
    "AsyncSmtpMailer",
    "async_mailer_from_url",
    # the sync face
    "ConsoleMailer",
    "Outbox",
    "QueuedMailer",
    "SmtpMailer",
    "mailer_from_url",
    # shared
    "Mail",
    "MailTemplates",
]
