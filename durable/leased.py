"""What a leased row is: the fields ``durable.leases.Leases`` needs, and which of its statuses mean what."""

from dataclasses import dataclass

from django.db import models
from django.utils import timezone


@dataclass(frozen=True)
class States:
    """Which ``status`` values of a model mean queued, held (running) and failed."""

    queued: str
    running: str
    failed: str


class Leased(models.Model):
    """The fields ``durable.leases.Leases`` needs: where a row stands and who holds it until when.

    A subclass gives ``status`` its choices and names its queued/running/failed values in ``STATES``.
    """

    STATES: States

    status = models.CharField(max_length=16)
    due_at = models.DateTimeField(default=timezone.now, help_text="Not to be tried before this.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    # Set while a consumer holds the row; a lease past its expiry means the holder died or hung.
    lease_token = models.CharField(
        max_length=32, blank=True, help_text="Fencing token: new at every claim; the holder's writes carry it."
    )
    claimed_by = models.CharField(max_length=128, blank=True, help_text="host:pid of the last holder.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
