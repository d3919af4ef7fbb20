"""Reports move onto ``durable.leases``: the ``Leased`` fields (claim_token renamed lease_token; data kept)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def due_when_enqueued(apps, schema_editor):
    """A queued report was due when it was enqueued."""
    apps.get_model("reports", "Report").objects.update(due_at=F("enqueued_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="report", old_name="claim_token", new_name="lease_token"),
        migrations.AlterField(
            model_name="report",
            name="lease_token",
            field=models.CharField(
                blank=True,
                help_text="Fencing token: new at every claim; the holder's writes carry it.",
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="report",
            name="claimed_by",
            field=models.CharField(blank=True, help_text="host:pid of the last holder.", max_length=128),
        ),
        migrations.AlterField(
            model_name="report",
            name="attempts",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="report",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="report",
            name="due_at",
            field=models.DateTimeField(default=django.utils.timezone.now, help_text="Not to be tried before this."),
        ),
        migrations.RunPython(due_when_enqueued, migrations.RunPython.noop, elidable=True),
    ]
