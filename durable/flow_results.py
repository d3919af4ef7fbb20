"""Reading chains and batches (``durable.flows``): ``get_flow`` / ``get_batch``, and their progress for the pages."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count

from durable.backend import task_of
from durable.compat import TaskResultDoesNotExist, TaskResultStatus
from durable.models import Flow
from durable.models import Task as TaskRow

ENDED = (TaskRow.Status.SUCCESSFUL, TaskRow.Status.FAILED, TaskRow.Status.CANCELLED)


@dataclass
class FlowResult:
    """A chain or batch: its status (the standard ``TaskResultStatus``), a ``TaskResult`` per task, in order."""

    id: str
    kind: str
    status: str
    results: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # task status -> how many

    @property
    def return_value(self):
        """The last step's return value (a chain that succeeded); None otherwise."""
        last = self.results[-1] if self.results else None
        return last.return_value if last is not None and last.status == TaskResultStatus.SUCCESSFUL else None


def get_flow(flow_id):
    """The chain or batch ``flow_id`` as a ``FlowResult``; ``TaskResultDoesNotExist`` if there is none."""
    try:
        flow = Flow.objects.get(pk=int(flow_id))
    except (TypeError, ValueError, Flow.DoesNotExist):
        raise TaskResultDoesNotExist(f"no chain or batch with id {flow_id!r}") from None
    rows = list(TaskRow.objects.filter(flow__in=[flow.pk, *flow.chains.values_list("pk", flat=True)]).order_by("id"))
    backend_results = [_result(row) for row in rows]
    counts = {
        status: n
        for status, n in TaskRow.objects.filter(pk__in=[r.pk for r in rows])
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    }
    if flow.status == "successful":
        status = TaskResultStatus.SUCCESSFUL
    elif flow.status == "failed":
        status = TaskResultStatus.FAILED
    elif any(r.status != TaskRow.Status.QUEUED and r.status != TaskRow.Status.WAITING for r in rows):
        status = TaskResultStatus.RUNNING
    else:
        status = TaskResultStatus.READY
    return FlowResult(id=str(flow.pk), kind=flow.kind, status=status, results=backend_results, counts=counts)


get_batch = get_flow


def _result(row):
    task = task_of(row.name)
    return task.get_backend().to_result(row, task)


def panel(now, limit=10):
    """The operations page's panel: the latest chains and batches of the last day (running first), with progress."""
    recent = Flow.objects.filter(parent=None, created_at__gte=now - timedelta(days=1)).order_by("-id")
    flows = sorted(recent[:limit], key=lambda f: (f.finished_at is not None, -f.pk))
    return {"flows": [{**vars(f), "id": f.pk, "progress": progress(f)} for f in flows]}


def progress(flow):
    """``"ended / all tasks ended"`` of a chain or batch (with its chains' steps)."""
    tasks = TaskRow.objects.filter(flow__in=[flow.pk, *flow.chains.values_list("pk", flat=True)])
    return f"{tasks.filter(status__in=ENDED).count()} / {tasks.count()} tasks ended"
