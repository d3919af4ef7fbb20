"""The outbox's part of the operations page: counts by status, retries, rate-limit waits, e-mails per hour."""

import datetime

from django.conf import settings
from django.db.models import Count, Min
from django.db.models.functions import TruncHour

from notifications.models import Message
from operations.registry import dashboard_panel, hourly_series


@dashboard_panel("outbox", order=10)
def outbox(now):
    """Counts by status, the oldest queued e-mail, what waits to retry or for a rate limit."""
    by_status = dict(Message.objects.values_list("status").annotate(n=Count("id")).order_by())
    oldest = Message.objects.filter(status=Message.Status.QUEUED).aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "counts": [(status.label, by_status.get(status.value, 0), status.value) for status in Message.Status],
        "oldest_queued": oldest,
        "oldest_queued_age": (now - oldest).total_seconds() if oldest else None,
        "retrying": Message.objects.filter(status=Message.Status.QUEUED, attempts__gt=0).count(),
        # Rate limits (notifications.limits): how many wait for a slot, and how fast mail leaves.
        "throttled": Message.objects.filter(status=Message.Status.QUEUED).exclude(reason="").count(),
        "sent_last_minute": Message.objects.filter(  # finished_at: the (status, finished_at) index
            status=Message.Status.SENT, finished_at__gte=now - datetime.timedelta(minutes=1)
        ).count(),
        "rate_limit": settings.EMAIL_RATE_LIMIT,
    }


@hourly_series("emails")
def sent_per_hour(start, end):
    """E-mails sent in each hour from ``start``."""
    return list(
        Message.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .annotate(hour=TruncHour("sent_at", tzinfo=datetime.UTC))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
