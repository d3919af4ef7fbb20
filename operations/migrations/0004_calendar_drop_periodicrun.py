"""The daily cleanup moves to ``durable.periodic``'s slot claim: ``PeriodicRun`` goes.

The last day the cleanup ran for becomes the slot taken on the cleanup's ``durable.Periodic`` row, so a site
upgraded after a missed midnight still catches that cleanup up once, and one that ran today does not run again.
"""

import datetime

from django.db import migrations
from django.utils import timezone

CLEANUP = "operations.tasks.daily_cleanup"


def carry_over(apps, schema_editor):
    PeriodicRun = apps.get_model("operations", "PeriodicRun")
    Periodic = apps.get_model("durable", "Periodic")
    last = PeriodicRun.objects.filter(name="daily-cleanup").values_list("last_run_for", flat=True).first()
    if last is None or Periodic.objects.filter(name=CLEANUP).exists():
        return
    midnight = timezone.make_aware(datetime.datetime.combine(last, datetime.time()))  # site-local midnight
    Periodic.objects.create(name=CLEANUP, last_slot=midnight.astimezone(datetime.UTC))


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0003_health_state"),
        ("durable", "0003_calendar_periodic_seen"),
    ]

    operations = [
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.DeleteModel(name="PeriodicRun"),
    ]
