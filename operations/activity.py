"""What runs and what ran, for the operations page: read from the durable task rows, never from Huey's internals.

Huey carries only wake-ups (``durable.run_due``, the outbox's delivery tasks): the rows say which task of
the site runs, under its own name, and how each attempt ended. A row held by a consumer that died (its pid
gone on this host, its heartbeat stale elsewhere, or its lease lapsed) is *lost*, not running: the
lease sweeper or the next consumer's start-up gives it another attempt.
"""

from datetime import UTC, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from durable.leases import HOST, pid_alive
from durable.models import Task, TaskAttempt

DAY = timedelta(hours=24)


def holder_alive(holder, alive_ids):
    """Whether ``holder`` (``host:pid``) is a consumer alive now: its pid on this host, its heartbeat elsewhere."""
    host, _, pid = holder.rpartition(":")
    if host == HOST and pid.isdigit():
        return pid_alive(int(pid))
    return holder in alive_ids


def running(now, alive_ids, limit=50):
    """Durable tasks that are running, split in two: held by a consumer alive now, and lost with one that died."""
    live, lost = [], []
    rows = Task.objects.filter(status=Task.Status.RUNNING).order_by("claimed_at", "id")
    for row in rows.only("name", "claimed_by", "claimed_at", "last_attempted_at", "lease_expires_at")[:limit]:
        since = row.last_attempted_at or row.claimed_at or now
        entry = {"task": row.name, "id": row.pk, "elapsed": (now - since).total_seconds(), "holder": row.claimed_by}
        leased = row.lease_expires_at is not None and row.lease_expires_at > now
        (live if leased and holder_alive(row.claimed_by, alive_ids) else lost).append(entry)
    return live, lost


def totals(now):
    """The tiles: tasks due and waiting, waiting for their time, and attempts finished / failed in 24 h."""
    queued = Task.objects.filter(status=Task.Status.QUEUED).aggregate(
        due=Count("pk", filter=Q(due_at__lte=now)), later=Count("pk", filter=Q(due_at__gt=now))
    )
    ended = TaskAttempt.objects.filter(finished_at__gte=now - DAY).aggregate(
        completed=Count("pk", filter=Q(outcome=TaskAttempt.Outcome.SUCCESSFUL)),
        errors=Count("pk", filter=~Q(outcome=TaskAttempt.Outcome.SUCCESSFUL)),
    )
    return {**queued, **ended}


def scheduled(now, limit=20):
    """Queued tasks waiting for their time (``run_after``, or a back-off after a failed attempt)."""
    rows = Task.objects.filter(status=Task.Status.QUEUED, due_at__gt=now).order_by("due_at", "id")[:limit]
    return [{"task": r.name, "id": r.pk, "eta": r.due_at, "retry": r.attempts > 0} for r in rows]


def recent_runs(limit=25):
    """The last finished attempts: the task's own name, how it ended, how long it took, its error."""
    # Newest rows first by id (the primary key's index; attempts are written as they end), not by a sort.
    attempts = TaskAttempt.objects.select_related("task").order_by("-id")[:limit]
    return [
        {
            "at": a.finished_at,
            "task": a.task.name,
            "id": a.task_id,
            "outcome": a.get_outcome_display(),
            "ok": a.outcome == TaskAttempt.Outcome.SUCCESSFUL,
            "duration": (a.finished_at - a.started_at).total_seconds(),
            "error": a.error,
        }
        for a in attempts
    ]


def finished_per_hour(start, end):
    """``[(hour, attempts finished)]`` between ``start`` and ``end``, hours as aware UTC datetimes."""
    rows = (
        TaskAttempt.objects.filter(finished_at__gte=start, finished_at__lt=end)
        .annotate(hour=TruncHour("finished_at", tzinfo=UTC))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return list(rows)
