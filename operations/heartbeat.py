"""Each consumer process says it is alive: host, pid and last-seen, every few seconds, in the database.

The web side reads it (``latest``) for the operations page and ``/health/``: no
row seen within ``OPERATIONS_HEARTBEAT_STALE_SECONDS`` means no consumer runs.
A beat is a duty of the consumer's one monitor thread (``durable.monitor``), the thread that
renews its leases, so a worker busy with a long task does not look dead, and a consumer whose
beat stopped has stopped renewing its leases too.
"""

import logging
import os
import threading
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from durable.leases import HOST, pid_alive
from durable.monitor import MONITOR
from operations.models import Heartbeat

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state = {"pid": None, "row": None, "workers": 0}


def queue_label(storage):
    """Where a Huey storage keeps its queue, for people to read (no credentials)."""
    if hasattr(storage, "filename"):
        return f"sqlite:///{storage.filename}"  # as HUEY_URL writes it: sqlite:////abs/path.sqlite3
    kwargs = getattr(getattr(storage, "pool", None), "connection_kwargs", {})
    return f"redis:{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def worker_started(storage, workers):
    """Called by every consumer worker at start; the first in a process starts the heartbeat."""
    with _lock:
        if _state["pid"] != os.getpid():  # a new process (or a fork): start afresh
            _state.update(pid=os.getpid(), row=None, workers=0)
        _state["workers"] += 1
        if _state["row"] is not None:
            return
        now = timezone.now()
        row = Heartbeat.objects.create(
            host=HOST, pid=os.getpid(), queue=queue_label(storage), workers=workers, started_at=now, last_seen=now
        )
        _state.update(row=row)
    MONITOR.add_duty("heartbeat", lambda: _beat(row.pk), first_in=settings.OPERATIONS_HEARTBEAT_SECONDS)
    MONITOR.ensure_running()
    logger.info("heartbeat %s: consumer %s:%s started on %s", row.pk, HOST, os.getpid(), row.queue)


def worker_stopped():
    """Called by every worker as it stops; the last one in the process records a clean stop."""
    with _lock:
        if _state["pid"] != os.getpid() or _state["row"] is None:
            return
        _state["workers"] -= 1
        if _state["workers"] > 0:
            return
        row = _state["row"]
        _state.update(row=None)
    MONITOR.remove_duty("heartbeat")
    now = timezone.now()
    Heartbeat.objects.filter(pk=row.pk).update(last_seen=now, stopped_at=now)
    logger.info("heartbeat %s: consumer %s:%s stopped cleanly", row.pk, HOST, os.getpid())


def _beat(pk):
    """One beat (a monitor duty: one that fails is logged and tried again a second later); seconds to the next."""
    Heartbeat.objects.filter(pk=pk, stopped_at=None).update(last_seen=timezone.now())
    return settings.OPERATIONS_HEARTBEAT_SECONDS


def latest(now=None):
    """The consumers seen recently (newest first), and whether one of them is alive now.

    Alive: not stopped, a beat within ``OPERATIONS_HEARTBEAT_STALE_SECONDS`` and, on this host, its pid exists.
    """
    now = now or timezone.now()
    stale = timedelta(seconds=settings.OPERATIONS_HEARTBEAT_STALE_SECONDS)
    recent = list(Heartbeat.objects.filter(last_seen__gte=now - timedelta(hours=1))[:20])
    for row in recent:
        row.age = (now - row.last_seen).total_seconds()
        # A consumer killed on this host is dead at once, not only when its beat goes stale.
        row.alive = row.stopped_at is None and now - row.last_seen <= stale and (row.host != HOST or pid_alive(row.pid))
    return recent, any(row.alive for row in recent)


def prunable(now):
    """Heartbeats of consumers gone for a day, for the daily cleanup."""
    return {"consumer heartbeats": Heartbeat.objects.filter(last_seen__lt=now - timedelta(days=1))}
