"""The outbox's ``/health/`` probe: a due e-mail left waiting too long means delivery has stalled."""

from django.conf import settings
from django.db.models import Min

from notifications.models import Message
from operations.registry import health_probe


@health_probe("outbox")
def outbox(now):
    """Fails when an e-mail due longer than OPERATIONS_OUTBOX_MAX_WAIT_SECONDS is still queued."""
    limit = settings.OPERATIONS_OUTBOX_MAX_WAIT_SECONDS
    queued = Message.objects.filter(status=Message.Status.QUEUED)
    oldest = queued.aggregate(created=Min("created_at"))["created"]
    # An e-mail waiting out its retry back-off is not late; one due and untouched is.
    due = queued.filter(due_at__lte=now).aggregate(due=Min("due_at"))["due"]
    wait = (now - due).total_seconds() if due else 0.0
    result = {
        "ok": wait <= limit,
        "oldest_queued_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        "oldest_due_wait_seconds": round(wait, 1),
    }
    if not result["ok"]:
        result["error"] = f"an e-mail due {wait:.0f} s ago is still queued (limit {limit:.0f} s)"
    return result
