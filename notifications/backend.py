"""The project's EMAIL_BACKEND: every send_mail() becomes an outbox row, delivered later."""

import logging
from email.utils import parseaddr

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address
from django.db import transaction

from notifications.models import Message
from notifications.tasks import deliver_on_commit

logger = logging.getLogger(__name__)


def to_row(email_message):
    """Render an ``EmailMessage`` into an unsaved outbox row (MIME bytes plus envelope)."""
    encoding = email_message.encoding or settings.DEFAULT_CHARSET
    # message() refuses header injection (BadHeaderError); sanitize_address refuses newlines.
    raw = email_message.message().as_bytes(linesep="\r\n")
    return Message(
        from_email=parseaddr(sanitize_address(email_message.from_email, encoding))[1],
        recipients=[parseaddr(sanitize_address(a, encoding))[1] for a in email_message.recipients()],
        subject=str(email_message.subject)[:255],
        raw=raw,
    )


class OutboxBackend(BaseEmailBackend):
    """Store messages in the caller's transaction; the consumer sends them after commit.

    The request pays for one INSERT per message and one enqueue per call.
    """

    def send_messages(self, email_messages):
        rows = [to_row(m) for m in email_messages if m.recipients()]
        if not rows:
            return 0
        with transaction.atomic():
            if len(rows) == 1:
                rows[0].save()
            else:
                rows = Message.objects.bulk_create(rows)
            deliver_on_commit([r.pk for r in rows])
        return len(rows)
