"""What keeps a task from being claimed: a paused queue (``durable.pause``) and a cancel request
(``durable.control``); ``claimable`` is the claim's filter for both."""

from django.db import models
from django.utils import timezone


class PausedQueue(models.Model):
    """A queue (of DURABLE_QUEUES) an operator paused (``durable.pause``): its tasks are enqueued but no consumer
    claims them until it is resumed, which deletes the row. Running tasks finish."""

    name = models.CharField(max_length=64, primary_key=True, help_text="The queue's name, from DURABLE_QUEUES.")
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.CharField(max_length=150, blank=True, help_text="Who paused it (a user, or the command).")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"queue {self.name} (paused)"


class CancelRequest(models.Model):
    """``durable.cancel`` asked to stop a running task (``durable.control``): the consumer running it stops it
    in its thread, as a time limit does, and records the attempt cancelled. Deleted once the task has ended."""

    task = models.OneToOneField("Task", on_delete=models.CASCADE, primary_key=True, related_name="cancel_request")
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cancel task {self.task_id}"


def unpaused(queryset):
    """Task rows less those of paused queues (one subquery in the caller's statement): they wait on purpose."""
    return queryset.exclude(queue_name__in=PausedQueue.objects.values("name"))


def uncancelled(queryset):
    """Task rows less those asked to cancel (``durable.cancel``): one subquery in the caller's statement."""
    return queryset.exclude(pk__in=CancelRequest.objects.values("task_id"))


def claimable(queryset):
    """Task rows a worker may claim: not in a paused queue, not asked to cancel (``durable.cancel``)."""
    return uncancelled(unpaused(queryset))
