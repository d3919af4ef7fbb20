"""A report: what was asked for, where its generation stands, and the file it produced."""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from durable.leases import States
from durable.models import Leased
from reports.storage import private_storage


def params_key(params):
    """A stable digest of the parameters, so equal requests can be recognised by the database."""
    canonical = json.dumps(params, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Report(Leased):
    """One requested report, from the request to its file (or its error).

    Claimed, held and taken back through ``durable.leases`` (``reports.generation.LEASES``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        CSV_EXCEL = "csv-excel", "CSV for Excel (UTF-8 with BOM)"
        XLSX = "xlsx", "Excel workbook (XLSX)"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    STATES = States(queued=Status.QUEUED, running=Status.RUNNING, failed=Status.FAILED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    type = models.CharField(max_length=64, help_text="Slug of the report type in reports.registry.")
    params = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    params_key = models.CharField(max_length=64, editable=False)
    format = models.CharField(max_length=16, choices=Format, default=Format.CSV)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)

    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100")
    row_count = models.PositiveBigIntegerField(default=0)
    expected_rows = models.PositiveBigIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="File size in bytes.")
    file = models.FileField(storage=private_storage, max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="Shown to the owner.")
    traceback = models.TextField(blank=True, help_text="For staff only; never shown to the owner.")
    site_url = models.CharField(max_length=200, blank=True, help_text="Scheme and host the report was asked from.")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The owner reads ``error``, staff ``traceback``: the lease's own note is not needed.
    last_error = None

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The same user asking again for the same report while one is on its way gets that one.
            models.UniqueConstraint(
                fields=["owner", "type", "params_key", "format"],
                condition=Q(status__in=["queued", "running"]),
                name="reports_one_active_per_request",
            ),
        ]
        indexes = [
            models.Index(fields=["lease_expires_at"], name="reports_leased", condition=Q(status="running")),
            models.Index(fields=["status", "finished_at"], name="reports_finished"),
        ]

    def __str__(self):
        return f"report {self.pk}: {self.type} ({self.status})"

    def save(self, *args, **kwargs):
        self.params_key = params_key(self.params)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("reports:detail", args=[self.pk])

    @property
    def report_type(self):
        """The registered type, or ``None`` when its module is gone."""
        from reports import registry

        return registry.get(self.type)

    @property
    def type_name(self):
        rtype = self.report_type
        return rtype.name if rtype else self.type

    @property
    def described_params(self):
        rtype = self.report_type
        return rtype.describe(self.params) if rtype else sorted(self.params.items())

    @property
    def is_active(self):
        return self.status in self.ACTIVE

    @property
    def expires_at(self):
        if self.status != self.Status.DONE or not self.finished_at:
            return None
        return self.finished_at + timedelta(days=settings.REPORTS_RETENTION_DAYS)

    def is_expired(self, now=None):
        """Expired by status, by age (before the daily cleanup got to it) or because its file is gone."""
        if self.status == self.Status.EXPIRED:
            return True
        if self.status != self.Status.DONE:
            return False
        if self.expires_at <= (now or timezone.now()):
            return True
        return not self.file or not self.file.storage.exists(self.file.name)

    @property
    def download_name(self):
        rtype = self.report_type
        stem = rtype.filename(self.params) if rtype else self.type
        return f"{stem}.{'xlsx' if self.format == self.Format.XLSX else 'csv'}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
