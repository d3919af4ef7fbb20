"""Bookkeeping for the site's own periodic jobs."""

from django.db import models


class PeriodicRun(models.Model):
    """The last day a daily job ran for, so it runs once a day: never twice, never skipped."""

    name = models.CharField(max_length=64, unique=True)
    last_run_for = models.DateField(null=True, blank=True, help_text="Site-local date of the last run.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.name} (last run for {self.last_run_for})"
