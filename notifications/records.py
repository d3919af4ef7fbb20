"""The outbox's other rows: each attempt, the suppression list, the sending limits' state and metric tallies.

Importing ``notifications.models`` registers them; import them from there.
"""

from django.db import models
from django.db.models import F

from durable import sql


class Attempt(models.Model):
    """One try at handing a message to the relay: when, how long, and what the relay answered."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        RETRY = "retry"
        FAILED = "failed"
        DEFERRED = "deferred"  # the relay said "slow down": the row went back untried, uncounted

    message = models.ForeignKey("notifications.Message", on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration = models.FloatField(help_text="Seconds from the first SMTP command to the relay's answer.")
    outcome = models.CharField(max_length=8, choices=Outcome)
    code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="SMTP reply code; empty if none came.")
    reply = models.TextField(blank=True, help_text="The relay's reply text, or the error when it never answered.")
    recipients = models.JSONField(default=list, help_text="The envelope recipients tried this time.")
    host = models.CharField(max_length=128)
    pid = models.PositiveIntegerField()

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["started_at"], name="attempt_started")]

    def __str__(self):
        return f"attempt on outbox {self.message_id} at {self.started_at:%Y-%m-%d %H:%M:%S}: {self.code or '-'}"

    _COLUMNS = ("message_id", "started_at", "duration", "outcome", "code", "reply", "recipients", "host", "pid")

    def insert(self):
        """INSERT this row with one plain statement: it is written once per message sent, on the hot path."""
        sql.insert(self, self._COLUMNS)

    @classmethod
    def insert_many(cls, attempts):
        """INSERT ``attempts`` with one multi-row statement (in chunks the database accepts)."""
        sql.insert_many(attempts, cls._COLUMNS)


class Suppression(models.Model):
    """An address the relay rejected permanently: later messages are not sent to it until lifted."""

    address = models.CharField(max_length=320, unique=True, help_text="Lower-cased envelope address.")
    reason = models.TextField(help_text="The relay's permanent rejection (code and text).")
    failed_at = models.DateTimeField(help_text="When the original delivery failed.")
    message = models.ForeignKey(
        "notifications.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The message that failed.",
    )
    lifted_at = models.DateTimeField(null=True, blank=True, help_text="Set when someone lifted it; empty = in force.")

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self):
        return f"{self.address} suppressed since {self.failed_at:%Y-%m-%d}"

    @property
    def active(self):
        return self.lifted_at is None


class RateLimit(models.Model):
    """The next free sending slot for one limit key ("relay" or "domain:gmail.com"), shared by all consumers."""

    key = models.CharField(max_length=255, primary_key=True)
    next_at = models.DateTimeField(help_text="No message under this key may start before this time.")

    def __str__(self):
        return f"{self.key}: next slot {self.next_at:%H:%M:%S.%f}"


class RelayPace(models.Model):
    """The relay's own pace, learned from its "slow down" answers and shared by every consumer (``pacing``)."""

    key = models.CharField(max_length=64, primary_key=True)
    window_started_at = models.DateTimeField(null=True, blank=True, help_text="First acceptance after a pause.")
    window_seconds = models.FloatField(default=0, help_text="Learned: how long after that the relay refuses.")
    refused_at = models.DateTimeField(null=True, blank=True, help_text="First refusal of the pause in force.")
    refusals = models.PositiveIntegerField(default=0, help_text="Refusals in a row since then.")
    paused_until = models.DateTimeField(null=True, blank=True, help_text="No message goes to the relay before.")

    def __str__(self):
        return f"{self.key}: window {self.window_seconds:.1f} s, paused until {self.paused_until}"


class MetricTally(models.Model):
    """Figures of rows the cleanup deleted, so ``/metrics`` counters (tally + live rows) never go down."""

    ATTEMPTS = "attempts:"  # key prefix: attempt figures (``notifications.metrics.attempt_figures`` keys)

    key = models.CharField(max_length=64, primary_key=True)
    value = models.FloatField(default=0)

    def __str__(self):
        return f"{self.key} = {self.value:g}"

    @classmethod
    def add(cls, prefix, figures):
        """Add ``figures`` (``{key: number}``) to the tallies under ``prefix``; inside the caller's transaction."""
        for key, value in figures.items():
            if value:
                tally, _ = cls.objects.get_or_create(key=prefix + key)
                cls.objects.filter(pk=tally.pk).update(value=F("value") + value)
