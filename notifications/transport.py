"""The real e-mail transport (from EMAIL_URL), sending stored MIME bytes as they are."""

import smtplib
import ssl
from email import message_from_bytes

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend


class StoredEmail(EmailMessage):
    """A stored outbox row presented to Django's non-SMTP backends (console, file, locmem)."""

    def __init__(self, row, recipients=None):
        super().__init__(subject=row.subject, from_email=row.from_email, to=list(recipients or row.recipients))
        self._raw = row.mime()

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
        if self.is_smtp and settings.EMAIL_SSL_CA_FILE:
            # A company relay signed by a private CA: trust that CA, still checking the host name.
            context = ssl.create_default_context(cafile=settings.EMAIL_SSL_CA_FILE)
            if self.backend.ssl_certfile or self.backend.ssl_keyfile:
                context.load_cert_chain(self.backend.ssl_certfile, self.backend.ssl_keyfile)
            self.backend.ssl_context = context
        self.last_reply = (None, "")

    def send(self, row, recipients=None):
        """Send one outbox row to ``recipients`` (default: all of its own).

        Return ``{address: (code, reply)}`` of recipients the relay refused; the relay's
        answer to the message itself is left in ``last_reply`` as ``(code, text)``.
        """
        recipients = list(recipients or row.recipients)
        if not self.is_smtp:
            self.backend.send_messages([StoredEmail(row, recipients)])
            self.last_reply = (None, f"handed to {type(self.backend).__module__}")
            return {}
        if self.backend.connection is None:
            self.backend.open()
        return self._sendmail(self.backend.connection, row.from_email, recipients, row.mime())

    def _sendmail(self, conn, sender, recipients, raw):
        """``smtplib.SMTP.sendmail``, keeping the relay's reply to DATA (sendmail drops it)."""
        conn.ehlo_or_helo_if_needed()
        options = [f"size={len(raw)}"] if conn.does_esmtp and conn.has_extn("size") else []
        code, resp = conn.mail(sender, options)
        if code != 250:
            self._abandon(conn, code)
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        refused = {}
        for address in recipients:
            code, resp = conn.rcpt(address)
            if code not in (250, 251):
                refused[address] = (code, resp)
            if code == 421:
                self._abandon(conn, code)
                raise smtplib.SMTPRecipientsRefused(refused)
        if len(refused) == len(recipients):
            self._abandon(conn, 0)
            raise smtplib.SMTPRecipientsRefused(refused)
        code, resp = conn.data(raw)
        if code != 250:
            self._abandon(conn, code)
            raise smtplib.SMTPDataError(code, resp)
        self.last_reply = (code, resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp))
        return refused

    @staticmethod
    def _abandon(conn, code):
        if code == 421:
            conn.close()
        else:
            conn._rset()

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
