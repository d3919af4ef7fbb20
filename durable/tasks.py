"""Huey tasks of the durable mechanism: thin; Huey carries wake-ups, the rows are the truth (``durable.worker``)."""

import sys

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from durable import periodic, worker
from durable.startup import once_per_consumer, when_queue_returns


@db_task(name="durable.run_due")
def run_due():
    """Wake-up: run the due task rows (any worker may take any wake-up; lost or extra ones cost nothing)."""
    worker.run_due()


if hasattr(HUEY, "on_wake"):  # a transaction's one wake-up (mysite.wakeups) names "durable" when it queued tasks
    HUEY.on_wake("durable")(worker.run_due)


@db_periodic_task(crontab(), name="durable.sweep")
def sweep():
    """Every minute, on one consumer: take back expired leases; wake a worker for due tasks no wake-up reached."""
    if periodic.take("durable.sweep", periodic.minute_of(timezone.now())):
        worker.sweep()


@db_periodic_task(crontab(), name="durable.tick")
def tick():
    """Every minute, on every consumer: enqueue the periodic tasks due (``durable.periodic``; one consumer wins each)."""
    periodic.tick()


@once_per_consumer("durable.recover")
def recover():
    """At consumer start: tasks held by consumers of this host that died run again at once."""
    worker.recover()


@when_queue_returns("durable.wake")
def wake_after_queue_outage():
    """The queue is back after an outage: run the tasks enqueued meanwhile now, not at the sweeper."""
    if worker.due_waiting(0):
        worker.wake()


@once_per_consumer("durable.periodic")
def catch_up():
    """At consumer start: periodic slots missed while no consumer ran are caught up once (or skipped)."""
    periodic.started()


@once_per_consumer("durable.switch_interval")
def switch_interval():
    """The reserved worker waits less for the GIL while CPU-bound tasks hold it (docs/tasks.md, "Slow work and e-mail")."""
    sys.setswitchinterval(settings.DURABLE_SWITCH_INTERVAL_MS / 1000)
