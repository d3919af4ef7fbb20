"""Operations' rows: consumer heartbeats and what ``/health/`` last answered."""

from django.db import models


class Heartbeat(models.Model):
    """One consumer process saying it is alive: written every few seconds while it runs."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queue = models.CharField(max_length=255, help_text="HUEY_URL's storage, without credentials.")
    workers = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="Set when it shut down cleanly.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "pid", "started_at"], name="heartbeat_process")]
        ordering = ["-last_seen"]

    def __str__(self):
        return f"consumer {self.host}:{self.pid} (last seen {self.last_seen:%Y-%m-%d %H:%M:%S})"


class HealthState(models.Model):
    """What ``/health/`` last answered (one row): a change is logged once, by one process, however many poll."""

    status = models.CharField(max_length=8, default="ok")
    changed_at = models.DateTimeField()
    detail = models.TextField(blank=True)

    class Meta:
        # What staff may see of operations beyond the admin's index (issue 20): give them in the admin.
        permissions = [
            ("view_operations", "Can see the operations page, /metrics and every probe of /health/"),
            ("send_test_email", "Can send a test e-mail from the operations page"),
        ]

    def __str__(self):
        return f"health {self.status} since {self.changed_at:%Y-%m-%d %H:%M:%S}"
