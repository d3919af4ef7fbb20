"""What the daily cleanup may delete from the outbox."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from notifications.metrics import attempt_figures
from notifications.models import Attempt, Message, MetricTally
from operations.registry import cleanup_source

BATCH = 500


@cleanup_source("notifications")
def prunable(now):
    """Outbox rows past their retention, by label: callables ``f(dry_run=False) -> count`` for the cleanup."""
    sent_before = now - timedelta(days=settings.NOTIFICATIONS_SENT_RETENTION_DAYS)
    failed_before = now - timedelta(days=settings.NOTIFICATIONS_FAILED_RETENTION_DAYS)
    return {
        "sent e-mails": Pruning(
            Message.objects.filter(status=Message.Status.SENT, finished_at__lt=sent_before), "message_id__in"
        ),
        "failed or cancelled e-mails": Pruning(
            Message.objects.filter(
                status__in=[Message.Status.FAILED, Message.Status.CANCELLED, Message.Status.SUPPRESSED],
                finished_at__lt=failed_before,
            ),
            "message_id__in",
        ),
        # Attempts of pruned e-mails go with them; these are old attempts of e-mails still kept.
        "delivery attempts": Pruning(
            Attempt.objects.filter(started_at__lt=now - timedelta(days=settings.NOTIFICATIONS_ATTEMPT_RETENTION_DAYS)),
            "pk__in",
        ),
    }


class Pruning:
    """Delete ``queryset`` in batches, first adding the figures of the attempts it takes to ``MetricTally``.

    ``attempts_by`` is the Attempt lookup that finds a batch's attempts by the batch's ids.
    """

    def __init__(self, queryset, attempts_by):
        self.queryset, self.attempts_by = queryset, attempts_by

    def __call__(self, dry_run=False):
        if dry_run:
            return self.queryset.count()
        total = 0
        while True:
            with transaction.atomic():
                ids = list(self.queryset.values_list("pk", flat=True)[:BATCH])
                if not ids:
                    return total
                figures = attempt_figures(Attempt.objects.filter(**{self.attempts_by: ids}).order_by())
                MetricTally.add(MetricTally.ATTEMPTS, figures)
                total += self.queryset.model.objects.filter(pk__in=ids).delete()[0]
