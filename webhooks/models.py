"""Endpoints staff configure, the events raised, and one delivery per endpoint and event, with its attempts."""

import uuid

from django.db import models
from django.db.models import F
from django.utils import timezone

from operations.signals import EVENT_TYPES
from webhooks import safety, signing


def new_event_id():
    return f"evt_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    """A URL that receives the events it subscribed to, in order, signed with its secret."""

    class Format(models.TextChoices):
        JSON = "json", "JSON (signed, Standard Webhooks)"
        CHAT = "chat", "Slack / Mattermost / Teams incoming webhook"

    name = models.CharField(max_length=100)
    url = models.URLField(
        "URL",
        max_length=2000,
        validators=[safety.validate_url],
        help_text="http(s) only. Its host must resolve to a public address, or one in WEBHOOKS_ALLOWED_NETWORKS.",
    )
    events = models.JSONField(default=list, help_text="The event types it receives.")
    format = models.CharField(max_length=8, choices=Format, default=Format.JSON)
    secret = models.CharField(
        max_length=100,
        default=signing.new_secret,
        help_text="Signs every request (webhook-signature header); give it to the receiver. See docs/webhooks.md.",
    )
    paused_at = models.DateTimeField(null=True, blank=True, help_text="Set: nothing is sent; deliveries wait.")
    paused_reason = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, help_text="Failed attempts since the last success.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.host})"

    @property
    def host(self):
        """The URL's host: what logs and pages name (a chat URL's path is itself a secret)."""
        return safety.host_of(self.url)

    def event_labels(self):
        return ", ".join(EVENT_TYPES.get(e, e) for e in self.events)

    def pause(self, reason):
        """Stop sending; deliveries wait until ``resume``. Returns True if it was running."""
        return bool(
            Endpoint.objects.filter(pk=self.pk, paused_at=None).update(
                paused_at=timezone.now(), paused_reason=reason[:1000]
            )
        )

    def record_failure(self):
        """Count a failed attempt; returns the count of failures in a row."""
        Endpoint.objects.filter(pk=self.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        return Endpoint.objects.values_list("consecutive_failures", flat=True).get(pk=self.pk)


class Event(models.Model):
    """Something that happened, once: its id is every delivery's ``webhook-id`` (the idempotency key)."""

    uid = models.CharField("id", max_length=40, unique=True, default=new_event_id, editable=False)
    type = models.CharField(
        max_length=64, help_text="One of operations.signals.EVENT_TYPES (not choices: no migration)."
    )
    data = models.JSONField(default=dict)
    summary = models.CharField(max_length=500, blank=True, help_text="The line a chat channel shows.")
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.type} {self.uid}"

    @property
    def label(self):
        return EVENT_TYPES.get(self.type, self.type)


class Delivery(models.Model):
    """One event to one endpoint: sent in order per endpoint, retried, recorded."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending (waiting or retrying)"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, default=timezone.now, help_text="When it is due to be tried (pending only)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhooks_one_delivery")]
        # The head of an endpoint's queue: its first pending delivery.
        indexes = [models.Index(fields=["endpoint", "status", "id"], name="webhooks_queue")]

    def __str__(self):
        return f"delivery {self.pk}: {self.event.type} to endpoint {self.endpoint_id}"


class Attempt(models.Model):
    """One POST: when, how long, what came back (a bounded excerpt; never the request body)."""

    class Outcome(models.TextChoices):
        SENDING = "sending", "sending (or its consumer died)"
        DELIVERED = "delivered"
        RETRY = "retry"
        FAILED = "failed"
        PAUSED = "paused", "failed; endpoint paused"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome, default=Outcome.SENDING)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number", "id"]

    def __str__(self):
        return f"delivery {self.delivery_id} attempt {self.number}: {self.outcome}"
