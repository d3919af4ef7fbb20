"""What the daily cleanup may delete of webhooks: finished deliveries (with their attempts) past retention."""

from datetime import timedelta

from django.conf import settings

from operations.registry import cleanup_source
from webhooks.models import Delivery, Event


@cleanup_source("webhooks")
def prunable(now):
    """Delivered or failed deliveries finished WEBHOOKS_RETENTION_DAYS ago, then events left with none."""
    before = now - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    finished = [Delivery.Status.DELIVERED, Delivery.Status.FAILED]
    return {
        "webhook deliveries and their attempts": Delivery.objects.filter(status__in=finished, finished_at__lt=before),
        "webhook events": Event.objects.filter(occurred_at__lt=before, deliveries__isnull=True),
    }
