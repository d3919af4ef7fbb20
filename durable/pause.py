"""Pausing a queue: its tasks are still enqueued, but no consumer claims them until it is resumed.

A paused queue is a ``PausedQueue`` row. Every claim leaves out the tasks of paused queues in its own
statement (``claimable``), so the pause holds on every consumer from the moment it commits, with no message
to deliver and nothing to miss; tasks already running finish. Resuming deletes the row and wakes the consumers.
``manage.py tasks pause QUEUE`` / ``resume QUEUE`` / ``list``, the admin (Paused queues) and the operations
page all come here.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from durable.models import PausedQueue, Task, unpaused

logger = logging.getLogger(__name__)


class UnknownQueue(ValueError):
    """The name is not one of the configured queues."""


def queues():
    """The configured queue names (``DURABLE_QUEUES``), in order."""
    names = []
    for alias in getattr(settings, "TASKS", {}).values():
        names += [q for q in alias.get("QUEUES", ["default"]) if q not in names]
    return names


def _known(name):
    if name not in queues():
        raise UnknownQueue(f"no queue named {name!r}; the queues are: {', '.join(queues())}")
    return name


def pause(name, by=""):
    """Pause the queue ``name``; True if it was running. ``UnknownQueue`` for a name not configured."""
    _, created = PausedQueue.objects.get_or_create(name=_known(name), defaults={"paused_by": by[:150]})
    if created:
        logger.warning("queue %s paused by %s: its tasks wait until it is resumed", name, by or "someone")
    return created


def resume(name, by=""):
    """Resume the queue ``name`` and wake the consumers for what waited; True if it was paused."""
    deleted, _ = PausedQueue.objects.filter(name=name).delete()  # a queue no longer configured may still be paused
    if not deleted:
        _known(name)
    if deleted:
        from durable.claim import wake

        transaction.on_commit(wake)
        logger.warning("queue %s resumed by %s", name, by or "someone")
    return bool(deleted)


claimable = unpaused  # task rows without the tasks of paused queues (durable.models)


def panel(now):
    """The operations page's panel of queues (``durable/ops_queues.html``): ``overview()``."""
    return {"queues": overview()}


def overview():
    """Each configured queue (and any paused one no longer configured): paused or not, since when, its counts."""
    paused = {p.name: p for p in PausedQueue.objects.all()}
    counts = dict.fromkeys(queues(), (0, 0))
    rows = (
        Task.objects.filter(status__in=Task.ACTIVE)
        .values_list("queue_name")
        .annotate(q=Count("pk", filter=Q(status=Task.Status.QUEUED)), r=Count("pk", filter=Q(status="running")))
        .order_by()
    )
    counts.update({name: (q, r) for name, q, r in rows})
    return [
        {
            "name": name,
            "paused": paused.get(name),
            "queued": counts.get(name, (0, 0))[0],
            "running": counts.get(name, (0, 0))[1],
        }
        for name in [*queues(), *sorted(set(paused) - set(queues()))]
    ]
