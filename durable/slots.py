"""The calendar's row: the last slot each periodic task took (``durable.periodic`` claims slots on it)."""

from django.db import models
from django.utils import timezone


class Periodic(models.Model):
    """The last slot of a periodic task that was taken: one row per task, claimed by a conditional UPDATE.

    A consumer enqueues a slot's run only if its UPDATE (``last_slot < slot``) matched the row, so
    however many consumers tick, each slot runs once, and a restart sees what was already done.
    """

    name = models.CharField(max_length=255, primary_key=True, help_text="Dotted path of the periodic task.")
    last_slot = models.DateTimeField(help_text="The latest scheduled minute taken (run, or skipped as missed).")
    last_task_id = models.BigIntegerField(null=True, blank=True, help_text="The task row enqueued for it, if any.")
    updated_at = models.DateTimeField(default=timezone.now)
    # Every consumer that has the declaration loaded stamps this at each tick: a row no tick stamps is a
    # declaration no running consumer knows (``durable.periodic.unloaded``).
    seen_at = models.DateTimeField(null=True, blank=True, help_text="Last tick of a consumer that declares it.")

    class Meta:
        verbose_name = "periodic task"

    def __str__(self):
        return f"periodic {self.name} (last slot {self.last_slot:%Y-%m-%d %H:%M})"
