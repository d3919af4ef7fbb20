"""What the daily cleanup deletes of durable tasks: finished rows past DURABLE_RETENTION_DAYS, with their attempts,
and the chains and batches that ended as long ago."""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction

from durable.metrics import WATERMARK, attempt_figures
from durable.models import Flow, Tally, Task, TaskAttempt

BATCH = 500
FINISHED = (Task.Status.SUCCESSFUL, Task.Status.FAILED, Task.Status.CANCELLED)


def prunable(now):
    """Finished task rows (successful, failed, cancelled) older than the retention, as a callable for the cleanup."""
    before = now - timedelta(days=settings.DURABLE_RETENTION_DAYS)
    return {
        "finished tasks": partial(delete_finished, Task.objects.filter(status__in=FINISHED, finished_at__lt=before)),
        # Chains and batches ended as long ago (a batch's chains go with it); their tasks go by the line above.
        "finished chains and batches": Flow.objects.filter(parent=None, finished_at__lt=before),
    }


def delete_finished(queryset, dry_run=False):
    """Delete ``queryset`` in batches; first add its attempts' figures to ``Tally`` so counters never go down."""
    if dry_run:
        return queryset.count()
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:BATCH])
            if not ids:
                return total
            # Attempts past the watermark are not in the tallies yet (``durable.metrics.fold``): add them now.
            mark = Tally.objects.select_for_update().filter(key=WATERMARK).values_list("value", flat=True).first()
            Tally.add(attempt_figures(TaskAttempt.objects.filter(task_id__in=ids, id__gt=mark or 0)))
            TaskAttempt.objects.filter(task_id__in=ids).delete()
            total += Task.objects.filter(pk__in=ids).delete()[0]
