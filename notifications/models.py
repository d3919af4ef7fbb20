"""The outbox: one row per e-mail, the single source of truth for its delivery."""

from datetime import timedelta
from email import message_from_bytes, policy

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Message(models.Model):
    """An e-mail stored as rendered MIME bytes plus its envelope, and where it stands."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"

    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    from_email = models.CharField(max_length=320)
    recipients = models.JSONField(help_text="Envelope recipients (addresses only).")
    subject = models.CharField(max_length=255, blank=True)
    raw = models.BinaryField(help_text="The message as sent: MIME bytes with CRLF line ends.")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    due_at = models.DateTimeField(default=timezone.now, help_text="Not to be tried before this.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it was sent, failed or was cancelled.")

    # Set while a consumer holds the row; a lease past its expiry means the consumer died.
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    claimed_by = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["due_at", "id"], name="outbox_due", condition=Q(status="queued")),
            models.Index(fields=["lease_expires_at"], name="outbox_leased", condition=Q(status="sending")),
            models.Index(fields=["status", "finished_at"], name="outbox_finished"),
        ]

    def __str__(self):
        return f"outbox {self.pk}: {self.subject!r} to {', '.join(self.recipients)} ({self.status})"

    @property
    def email(self):
        """The stored message parsed back into an ``email.message.EmailMessage``."""
        return message_from_bytes(bytes(self.raw), policy=policy.default)

    def body_text(self):
        """The plain-text part (or, failing that, the first text part) for display."""
        part = self.email.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    # --- state changes ----------------------------------------------------
    # Each is a conditional UPDATE on the claim token, so a consumer that lost its
    # lease (and the row to another consumer) cannot overwrite the newer outcome.

    def _held(self):
        return Message.objects.filter(pk=self.pk, status=self.Status.SENDING, claim_token=self.claim_token)

    def mark_sent(self, note=""):
        now = timezone.now()
        return self._held().update(
            status=self.Status.SENT,
            sent_at=now,
            finished_at=now,
            last_error=note[:2000],
            claim_token="",
            lease_expires_at=None,
        )

    def mark_failed(self, error):
        return self._held().update(
            status=self.Status.FAILED,
            finished_at=timezone.now(),
            last_error=error[:2000],
            claim_token="",
            lease_expires_at=None,
        )

    def mark_retry(self, error, due_at):
        return self._held().update(
            status=self.Status.QUEUED,
            due_at=due_at,
            last_error=error[:2000],
            claim_token="",
            lease_expires_at=None,
        )

    def release(self):
        """Give the row back untried (the batch ran out of time); the attempt is not counted."""
        return self._held().update(
            status=self.Status.QUEUED,
            attempts=F("attempts") - 1,
            claim_token="",
            lease_expires_at=None,
        )


def retry_delay(attempts):
    """Exponential back-off: base, 2x base, 4x base ... capped; hours in total by default."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_SECONDS))
