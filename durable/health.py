"""Durable tasks' ``/health/`` probe: a due task left waiting too long means the consumers are stalled or too few."""

from django.conf import settings
from django.db.models import Min

from durable import pause
from durable.models import Task


def tasks(now):
    """Fails when a task due longer than DURABLE_HEALTH_MAX_WAIT_SECONDS has not started.

    A task waiting out its back-off or its ``run_after`` is not late (not due yet), nor one in a paused queue;
    one due and untaken is.
    """
    limit = settings.DURABLE_HEALTH_MAX_WAIT_SECONDS
    waiting = pause.claimable(Task.objects.filter(status=Task.Status.QUEUED, due_at__lte=now))  # paused: on purpose
    due = waiting.aggregate(due=Min("due_at"))["due"]
    age = (now - due).total_seconds() if due else 0.0
    result = {"ok": age <= limit, "oldest_due_age_seconds": round(age, 1)}
    if not result["ok"]:
        result["error"] = f"a task due {age:.0f} s ago has not started (limit {limit:.0f} s)"
    return result
