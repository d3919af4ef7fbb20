"""Durable tasks' part of the operations page: each task name's counts, the oldest due, recent failures."""

from django.db.models import Case, Count, F, Min, Q, Value, When

from durable import periodic
from durable.models import Periodic, Task, TaskAttempt

COLUMNS = ("queued", "running", "retrying", "failed")


def durable(now, failures=10):
    """Per task name: queued / running / retrying / failed and its oldest due; the latest failed attempts."""
    state = Case(When(status=Task.Status.QUEUED, attempts__gt=0, then=Value("retrying")), default=F("status"))
    rows = (
        Task.objects.filter(status__in=[Task.Status.QUEUED, Task.Status.RUNNING, Task.Status.FAILED])
        .order_by()
        .annotate(state=state)
        .values_list("name", "state")
        .annotate(n=Count("pk"), due=Min("due_at", filter=Q(status=Task.Status.QUEUED, due_at__lte=now)))
    )
    names = {}
    for name, status, n, due in rows:
        entry = names.setdefault(name, {"name": name, **dict.fromkeys(COLUMNS, 0), "oldest_due": None})
        entry[status] = n
        if due is not None and (entry["oldest_due"] is None or due < entry["oldest_due"]):
            entry["oldest_due"] = due
    for entry in names.values():
        entry["oldest_due_age"] = (now - entry["oldest_due"]).total_seconds() if entry["oldest_due"] else None
    oldest = [e["oldest_due"] for e in names.values() if e["oldest_due"]]
    return {
        "names": sorted(names.values(), key=lambda e: e["name"]),
        "oldest_due_age": (now - min(oldest)).total_seconds() if oldest else None,
        "periodic": periodic_tasks(now),
        "failures": list(
            TaskAttempt.objects.exclude(outcome=TaskAttempt.Outcome.SUCCESSFUL)
            .select_related("task")
            .order_by("-finished_at", "-id")[:failures]
        ),
    }


def periodic_tasks(now):
    """Each declared periodic task (``durable.periodic``): its policy, last slot taken, its run's state, next slot."""
    rows = {p.name: p for p in Periodic.objects.filter(name__in=list(periodic.declared()))}
    ids = [p.last_task_id for p in rows.values() if p.last_task_id]
    states = dict(Task.objects.filter(pk__in=ids).values_list("pk", "status"))
    out = []
    for name, d in sorted(periodic.declared().items()):
        row = rows.get(name)
        last_task = row.last_task_id if row else None
        out.append(
            {
                "name": name,
                "missed": d.missed,
                "last": row.last_slot if row else None,
                "last_task": last_task,
                "last_state": states.get(last_task),
                "next": periodic.next_slot(d.schedule, now),
            }
        )
    return out
