"""The real e-mail transport (from EMAIL_URL), sending stored MIME bytes as they are."""

from email import message_from_bytes

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend


class StoredEmail(EmailMessage):
    """A stored outbox row presented to Django's non-SMTP backends (console, file, locmem)."""

    def __init__(self, row):
        super().__init__(subject=row.subject, from_email=row.from_email, to=list(row.recipients))
        self._raw = bytes(row.raw)

    def message(self, *, policy=None):
        return message_from_bytes(self._raw)


class Transport:
    """One connection to the relay, opened lazily and reused for a whole batch.

    SMTP gets the stored bytes through smtplib directly, so nothing is
    re-rendered and per-recipient refusals are reported; any other Django
    backend gets a ``StoredEmail``.
    """

    def __init__(self, backend=None, **options):
        self.backend = get_connection(backend or settings.NOTIFICATIONS_TRANSPORT, fail_silently=False, **options)
        self.is_smtp = isinstance(self.backend, SMTPBackend)

    def send(self, row):
        """Send one outbox row; return ``{address: (code, reply)}`` of recipients the relay refused."""
        if not self.is_smtp:
            self.backend.send_messages([StoredEmail(row)])
            return {}
        if self.backend.connection is None:
            self.backend.open()
        return self.backend.connection.sendmail(row.from_email, list(row.recipients), bytes(row.raw))

    def reset(self):
        """Drop a connection that failed, so the next send opens a fresh one."""
        if self.is_smtp and self.backend.connection is not None:
            try:
                self.backend.connection.close()
            except Exception:  # noqa: BLE001 - a broken socket may fail to close; it is gone either way
                pass
            self.backend.connection = None

    def close(self):
        try:
            self.backend.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not hide the real outcome
            self.reset()
