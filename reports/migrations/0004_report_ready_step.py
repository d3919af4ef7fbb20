"""The ready e-mail becomes the step after generation in a chain; ``notified_at`` says it went (once).

Reports done before the upgrade were told by the old code: they are marked so. A report queued or running
at the upgrade has a plain generation task: it is made the first step of a chain whose second step, waiting,
sends the e-mail, as ``reports.requests.enqueue`` writes it now.
"""

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

EMAIL_TASK = "reports.tasks.email_report_ready"  # as the durable backend names it: the task's module path


def chain_in_flight(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    Task = apps.get_model("durable", "Task")
    Flow = apps.get_model("durable", "Flow")
    Report.objects.filter(status="done").update(notified_at=F("finished_at"))
    now = timezone.now()
    in_flight = Report.objects.filter(
        status__in=["queued", "running"], task__flow__isnull=True, task__status__in=["queued", "running"]
    )
    for report in in_flight.order_by("pk"):
        flow = Flow.objects.create(kind="chain")
        Task.objects.filter(pk=report.task_id).update(flow=flow)
        Task.objects.create(
            name=EMAIL_TASK, args=[report.pk], kwargs={}, status="waiting", flow=flow, max_attempts=5, due_at=now
        )


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0007_flows_chain_batch"),
        ("reports", "0003_reports_durable_task"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="notified_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the ready e-mail went to the outbox (once, by the chain's second step).",
                null=True,
            ),
        ),
        migrations.RunPython(chain_in_flight, migrations.RunPython.noop),
    ]
