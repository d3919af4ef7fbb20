"""Reports become durable tasks: a report points to its task; durable holds the lease, so the lease fields go.

A report queued or running at upgrade (its consumer stopped for the deploy) gets its task here, queued
and due now, and starts again from its first row: the first consumer to start wakes a worker for it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

TASK = "reports.tasks.generate_report"  # as the durable backend names it: the task's module path


def enqueue_in_flight(apps, schema_editor):
    """One queued durable task per queued or running report (the next of each owner's ranks lower, for fairness)."""
    Report = apps.get_model("reports", "Report")
    Task = apps.get_model("durable", "Task")
    now = timezone.now()
    ranks = {}
    for report in Report.objects.filter(status__in=["queued", "running"], task__isnull=True).order_by("pk"):
        rank = ranks[report.owner_id] = ranks.get(report.owner_id, -1) + 1
        task = Task.objects.create(
            name=TASK,
            args=[report.pk],
            kwargs={},
            priority=-min(rank, 100),
            due_at=now,
            enqueued_at=now,
            max_attempts=settings.REPORTS_MAX_ATTEMPTS + 1,
            unique_key=f"report:{report.pk}",
            group="reports",
        )
        Report.objects.filter(pk=report.pk).update(
            task=task, status="queued", attempts=0, progress=0, row_count=0, enqueued_at=now
        )


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0002_tally_periodic"),
        ("reports", "0002_leased"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="task",
            field=models.ForeignKey(
                blank=True,
                help_text="The durable task that generates it (deleted with old tasks by the daily cleanup).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="durable.task",
            ),
        ),
        migrations.AlterField(
            model_name="report",
            name="attempts",
            field=models.PositiveIntegerField(
                default=0, help_text="The task attempt generating it: a write of any other attempt matches nothing."
            ),
        ),
        migrations.RunPython(enqueue_in_flight, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="report", name="reports_leased"),
        migrations.RemoveField(model_name="report", name="claimed_at"),
        migrations.RemoveField(model_name="report", name="claimed_by"),
        migrations.RemoveField(model_name="report", name="due_at"),
        migrations.RemoveField(model_name="report", name="lease_expires_at"),
        migrations.RemoveField(model_name="report", name="lease_token"),
    ]
