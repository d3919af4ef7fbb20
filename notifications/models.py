"""The outbox: one row per e-mail, the single source of truth for its delivery."""

from datetime import timedelta
from email import message_from_bytes, policy
from email.utils import parseaddr

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from durable.leased import States
from durable.leases import Leases
from durable.models import Leased
from notifications import composed
from operations.signals import site_event


class Message(Leased):
    """An e-mail stored as data (its fields as JSON) or as MIME bytes, plus its envelope, and where it stands.

    Held by a consumer through ``durable.leases`` (``LEASES`` below): queued -> sending (claimed,
    leased, fenced by ``lease_token``) -> sent, failed, suppressed, or queued again for a retry.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"
        SUPPRESSED = "suppressed"

    STATES = States(queued=Status.QUEUED, running=Status.SENDING, failed=Status.FAILED)

    class Priority(models.IntegerChoices):
        """Which due rows go first when the relay limit lets only some through (lower goes first)."""

        HIGH = 10, "high: asked for by its reader"
        NORMAL = 20, "normal"
        BULK = 30, "bulk: reports, staff and other mail that can wait"

    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    priority = models.PositiveSmallIntegerField(choices=Priority, default=Priority.NORMAL)
    from_email = models.CharField(max_length=320)
    recipients = models.JSONField(help_text="Envelope recipients (addresses only).")
    subject = models.CharField(max_length=255, blank=True)
    raw = models.BinaryField(
        blank=True, default=b"", help_text="The message as MIME bytes with CRLF line ends (empty when kept as data)."
    )
    data = models.JSONField(
        null=True, blank=True, help_text="The message's fields, rendered to MIME when sent (notifications.composed)."
    )
    sensitive = models.BooleanField(
        default=False,
        help_text="The body carries a secret (a password reset link, say): shown to superusers only, logged.",
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it was sent, failed or was cancelled.")
    reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why it waits (a rate limit) or why it was not sent, in a few words for its reader.",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The claim's order, so taking the next due rows reads the index in order (no sort).
            models.Index(fields=["priority", "due_at", "id"], name="outbox_due", condition=Q(status="queued")),
            models.Index(fields=["lease_expires_at"], name="outbox_leased", condition=Q(status="sending")),
            models.Index(fields=["status", "finished_at"], name="outbox_finished"),
        ]

    def __str__(self):
        return f"outbox {self.pk}: {self.subject!r} to {', '.join(self.recipients)} ({self.status})"

    def mime(self):
        """The message as sent: its MIME bytes, rendered from its fields once per loaded row when kept as data."""
        if self.data is None:
            return bytes(self.raw)
        if getattr(self, "_mime", None) is None:
            self._mime = composed.render(self.data)
        return self._mime

    @property
    def email(self):
        """The stored message parsed back into an ``email.message.EmailMessage``."""
        return message_from_bytes(self.mime(), policy=policy.default)

    def body_text(self):
        """The plain-text part (or, failing that, the first text part) for display."""
        part = self.email.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    # --- state changes ----------------------------------------------------
    # Each is the lease mechanism's fenced write (``LEASES``): a consumer that lost its lease
    # (and the row to another consumer) cannot overwrite the newer outcome. Truthy when written.

    def mark_sent(self, note="", reason=""):
        now = timezone.now()
        return LEASES.finish(
            self, status=self.Status.SENT, sent_at=now, finished_at=now, last_error=note[:2000], reason=reason[:200]
        )

    @classmethod
    def mark_sent_many(cls, rows):
        """Record ``rows`` (claimed, sent with nothing refused) as sent: one fenced UPDATE per lease token.

        A row whose lease was lost (and taken by another consumer) is left alone. Returns how many were written.
        """
        now = timezone.now()
        return LEASES.finish_many(rows, status=cls.Status.SENT, sent_at=now, finished_at=now, last_error="", reason="")

    def mark_failed(self, error, reason=""):
        failed = LEASES.finish(
            self, status=self.Status.FAILED, finished_at=timezone.now(), last_error=error[:2000], reason=reason[:200]
        )
        if failed:  # the "e-mail failed permanently" webhook event: ids and the reason, no address or subject
            site_event.send(
                sender=__name__,
                type="email.failed",
                data={"outbox_id": self.pk, "reason": reason[:200], "recipients": len(self.recipients)},
                summary=f"E-mail {self.pk} failed permanently: {reason[:200] or error[:200]}",
            )
        return failed

    def mark_retry(self, error, due_at):
        return LEASES.finish(self, status=self.Status.QUEUED, due_at=due_at, last_error=error[:2000], reason="")

    def mark_suppressed(self, error, reason):
        """Every recipient is suppressed: nothing was attempted, and nothing will be."""
        return LEASES.finish(
            self,
            status=self.Status.SUPPRESSED,
            attempts=F("attempts") - 1,
            finished_at=timezone.now(),
            last_error=error[:2000],
            reason=reason[:200],
        )

    def release(self):
        """Give the row back untried (the batch ran out of time); the attempt is not counted."""
        return LEASES.release([self])

    @classmethod
    def throttle(cls, rows, until, reason, error=None):
        """Give ``rows`` back untried until ``until`` (a rate limit's next slot); the attempt is not counted.

        The rows stay queued (so the claim takes them when due) with ``reason`` set, and ``error``
        (the relay's "slow down") as their last error when given.
        """
        extra = {} if error is None else {"last_error": error[:2000]}
        return LEASES.release(rows, due_at=until, reason=reason[:200], **extra)

    def status_in_words(self):
        """Where it stands, as its reader would say it: "sent 10:42", "waiting: relay limit" ..."""

        def hm(when):
            return timezone.localtime(when).strftime("%H:%M")

        if self.status == self.Status.SENT:
            return f"sent {hm(self.sent_at)}" + (f" ({self.reason})" if self.reason else "")
        if self.status == self.Status.QUEUED:
            if self.reason:
                return f"waiting: {self.reason}"
            if self.last_error and self.attempts:
                return f"retrying at {hm(self.due_at)}: {_short(self.last_error)}"
            return "queued"
        if self.status == self.Status.SENDING:
            return "sending"
        if self.status == self.Status.CANCELLED:
            return "not sent: cancelled"
        return f"not sent: {self.reason or _short(self.last_error) or self.status}"


class MessageLeases(Leases):
    """The lease mechanism on outbox rows: a lease of NOTIFICATIONS_LEASE_SECONDS, claimed by priority then due time.

    A claim clears the row's waiting ``reason``; a row taken back from a dead consumer after
    NOTIFICATIONS_MAX_ATTEMPTS ends failed (so a message that crashes its consumer cannot loop).
    """

    def __init__(self):
        super().__init__(
            Message,
            Message.STATES,
            seconds=lambda: settings.NOTIFICATIONS_LEASE_SECONDS,
            max_attempts=lambda: settings.NOTIFICATIONS_MAX_ATTEMPTS,
            order_by=("priority", "due_at", "id"),
        )

    def claim_values(self, now):
        return {"reason": ""}

    def lost(self, row, why, used_up, now):
        values = super().lost(row, why, used_up, now)
        if used_up:
            values.update(finished_at=now, reason=f"gave up: {why}"[:200])
        return values


LEASES = MessageLeases()


def site_addresses():
    """The site's own mailboxes (``ADMINS``, ``MANAGERS``, ``SERVER_EMAIL``), lower-cased.

    Mail to them (server errors, say) is never a user's own, even for a user who signed up with one.
    """
    named = [address for _, address in [*settings.ADMINS, *settings.MANAGERS]]
    return {parseaddr(a)[1].lower() for a in [*named, settings.SERVER_EMAIL]} - {""}


def addressed_to(recipients, address):
    """Whether ``address`` is one of ``recipients`` (case ignored) in mail meant for users, not the site's staff."""
    wanted = address.lower()
    lowered = {r.lower() for r in recipients}
    return bool(wanted) and wanted in lowered and not lowered & site_addresses()


def _short(text, limit=60):
    text = text.splitlines()[0] if text else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_delay(attempts):
    """Exponential back-off: base, 2x base, 4x base ... capped; hours in total by default."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_SECONDS))


# The outbox's other rows live in their own module; importing them here registers them with Django.
from notifications.records import Attempt, MetricTally, RateLimit, RelayPace, Suppression  # noqa: E402, F401
