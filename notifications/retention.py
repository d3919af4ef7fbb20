"""What the daily cleanup may delete from the outbox."""

from datetime import timedelta

from django.conf import settings

from notifications.models import Attempt, Message
from operations.registry import cleanup_source


@cleanup_source("notifications")
def prunable(now):
    """Querysets of outbox rows past their retention, by label."""
    sent_before = now - timedelta(days=settings.NOTIFICATIONS_SENT_RETENTION_DAYS)
    failed_before = now - timedelta(days=settings.NOTIFICATIONS_FAILED_RETENTION_DAYS)
    return {
        "sent e-mails": Message.objects.filter(status=Message.Status.SENT, finished_at__lt=sent_before),
        "failed or cancelled e-mails": Message.objects.filter(
            status__in=[Message.Status.FAILED, Message.Status.CANCELLED, Message.Status.SUPPRESSED],
            finished_at__lt=failed_before,
        ),
        # Attempts of pruned e-mails go with them; these are old attempts of e-mails still kept.
        "delivery attempts": Attempt.objects.filter(
            started_at__lt=now - timedelta(days=settings.NOTIFICATIONS_ATTEMPT_RETENTION_DAYS)
        ),
    }
