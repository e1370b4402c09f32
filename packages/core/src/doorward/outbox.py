"""Durable mail through the store's outbox (DI-02), both faces.

    from doorward.outbox import OutboxMailer, AsyncOutboxMailer
    mailer = OutboxMailer.from_url(store, "smtp://mail.internal:25?from=no-reply@example.com")

``OutboxMailer`` / ``AsyncOutboxMailer`` store each mail in the store's outbox (the
``MailOutbox`` capability: memory, SQLAlchemy with ``Models.outbox``, Mongo); a
``MailWorker`` / ``AsyncMailWorker`` delivers it, in the background of each app process by
default, or in a separate ``doorward mail-worker`` process. See ``doorward._async.outbox``.
"""

from doorward._async.outbox import RETRY_DELAYS, AsyncMailWorker, AsyncOutboxMailer
from doorward._smtp import SmtpConfig, SmtpDelivery
from doorward._sync.outbox import MailWorker, OutboxMailer
from doorward.records import OutboxMessage

__all__ = [
    "RETRY_DELAYS",
    # the async face
    "AsyncMailWorker",
    "AsyncOutboxMailer",
    # the sync face
    "MailWorker",
    "OutboxMailer",
    # shared
    "OutboxMessage",
    "SmtpConfig",
    "SmtpDelivery",
]
