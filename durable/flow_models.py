"""The row of a chain or batch (``durable.flows``), and the hook a flow's task runs as it ends."""

from django.db import models
from django.utils import timezone


class Flow(models.Model):
    """A chain (steps run one after another) or a batch (members run at once, callbacks when all have ended).

    ``durable.flows``: its tasks point to it (``Task.flow``); a chain inside a batch points to the batch
    (``parent``). ``finished_at`` is set once, by a conditional UPDATE in the transaction of the outcome that
    ended it, with the callbacks enqueued in that same transaction: each runs exactly once.
    """

    class Kind(models.TextChoices):
        CHAIN = "chain"
        BATCH = "batch"

    kind = models.CharField(max_length=8, choices=Kind)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="chains")
    status = models.CharField(max_length=16, default="running", help_text="running, successful or failed.")
    callbacks = models.JSONField(default=dict, blank=True, help_text="on_success / on_failure / on_finish calls.")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["finished_at"], name="durable_flow_unfinished")]

    def __str__(self):
        return f"{self.kind} {self.pk} ({self.status})"


_FLOW_HOOKS = {}  # name -> hook(row, status, value): ``durable.flows`` registers its hand-over


def on_flow_member_ended(hook):
    """Register ``hook(row, status, value)``, run in the transaction that records the outcome of a flow's task."""
    _FLOW_HOOKS[f"{hook.__module__}.{hook.__qualname__}"] = hook
    return hook


def flow_member_ended(row, status, value=None):
    """A task of a chain or batch ended with ``status``: its flow moves on, in the caller's transaction."""
    for hook in _FLOW_HOOKS.values():
        hook(row, status, value)
