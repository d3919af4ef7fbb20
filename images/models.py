"""One row per accepted upload: the truth about a picture (the files follow it, the task is only a wake-up)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Picture(models.Model):
    """An uploaded profile picture: processing, then ready (its user's current one), replaced, or failed."""

    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"  # the user's current picture (at most one)
        REPLACED = "replaced"  # a newer one is ready; the daily cleanup deletes it
        FAILED = "failed"  # refused by the decoder; ``error`` says why, its files are gone

    LIVE = (Status.PROCESSING, Status.READY)

    # SET_NULL: a deleted user's pictures stop being served at once and go with the daily cleanup.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="pictures")
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    source_format = models.CharField(max_length=8)  # JPEG, PNG, WEBP, GIF (from the content)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    output = models.CharField(max_length=8)  # webp or jpeg: IMAGES_FORMAT when it was uploaded
    sizes = models.JSONField(default=dict)  # {"64": [w, h], ...} once ready
    error = models.CharField(max_length=300, blank=True)  # what the user is told when it failed
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The same upload twice makes no second job (a race included): one live picture per content and user.
            models.UniqueConstraint(
                fields=["user", "sha256"], condition=Q(status__in=["processing", "ready"]), name="images_live_content"
            ),
        ]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self):
        return f"picture {self.pk} ({self.status})"

    @property
    def key(self):
        """Part of every URL of this picture: a new upload has new URLs, so they may be cached for ever."""
        return self.sha256[:16]

    @property
    def etag(self):
        return f'"{self.key}-{self.output}"'

    def url(self, size):
        """The URL of one published size (the nearest one made if ``size`` is not one of them)."""
        made = sorted(int(s) for s in self.sizes) or [size]
        size = min(made, key=lambda s: (s < size, abs(s - size)))
        return reverse("images:derived", args=[self.pk, self.key, size])

    @property
    def src(self):
        """The size the pages show (256 px, or the nearest made)."""
        return self.url(256)

    @property
    def large(self):
        """The largest size, for high-density screens."""
        return self.url(max((int(s) for s in self.sizes), default=1024))

    def urls(self):
        return {int(s): self.url(int(s)) for s in self.sizes}
