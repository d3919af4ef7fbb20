"""Durable tasks' ``/health/`` probe: a due task left waiting too long means the consumers are stalled or too few.

It also carries warnings that do not fail the probe (a load balancer must not pull the site for them) but must
not pass silently: periodic tasks no running consumer declares, and task names the consumer cannot import.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min

from durable import limits, pause, periodic
from durable.exceptions import TaskNotFound
from durable.models import Task

HINT = "is its app in INSTALLED_APPS where the consumer runs, and the code deployed there?"


def tasks(now):
    """Fails when a task due longer than DURABLE_HEALTH_MAX_WAIT_SECONDS has not started.

    A task waiting out its back-off or its ``run_after`` is not late (not due yet), nor one in a paused queue,
    nor one of an ordered key waiting behind an earlier task (``durable.limits.in_order``); one due and untaken is.
    """
    limit = settings.DURABLE_HEALTH_MAX_WAIT_SECONDS
    # Paused, or behind its key's earlier task: waiting on purpose.
    waiting = limits.in_order(pause.claimable(Task.objects.filter(status=Task.Status.QUEUED, due_at__lte=now)))
    due = waiting.aggregate(due=Min("due_at"))["due"]
    age = (now - due).total_seconds() if due else 0.0
    result = {"ok": age <= limit, "oldest_due_age_seconds": round(age, 1)}
    if not result["ok"]:
        result["error"] = f"a task due {age:.0f} s ago has not started (limit {limit:.0f} s)"
    found = warnings(now)
    if found:
        result["warnings"] = found
    return result


def unknown_names(now, hours=24):
    """Task names the consumer could not import, among tasks failed for it in the last ``hours``: ``{name: count}``.

    Read from the failed rows (the ``status`` index), whose last error says ``TaskNotFound`` (``durable.executor``).
    """
    rows = (
        Task.objects.filter(
            status=Task.Status.FAILED,
            last_error__startswith=f"{TaskNotFound.__name__}: ",
            finished_at__gte=now - timedelta(hours=hours),
        )
        .values_list("name")
        .annotate(n=Count("pk"))
        .order_by("name")
    )
    return dict(rows)


def warnings(now):
    """What the operations page and ``/health/`` warn about: one sentence each."""
    out = [
        f"periodic task {p['name']} is declared by no running consumer"
        + (f" (last seen {p['seen_at']:%Y-%m-%d %H:%M} UTC)" if p["seen_at"] else "")
        + f": it does not run; {periodic.WHERE}"
        for p in periodic.unloaded(now)
    ]
    out += [
        f"{n} task{'s' if n > 1 else ''} named {name} failed: the consumer cannot import {name} ({HINT})"
        for name, n in unknown_names(now).items()
    ]
    return out
