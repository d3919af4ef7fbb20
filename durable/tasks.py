"""Huey tasks and consumer hooks of the durable mechanism: thin; Huey carries wake-ups, the rows are the truth.

The wake-up itself (``durable.run_due``) is ``durable.claim.wakeup``.
"""

import sys

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from durable import claim, lifeline, periodic
from durable.models import LEASES
from durable.startup import once_per_consumer, when_queue_returns

lifeline.register(LEASES, wake=lambda due: claim.wake(), stale_after=lambda: settings.DURABLE_WAKE_AFTER_SECONDS)


if hasattr(HUEY, "on_wake"):  # a transaction's one wake-up (mysite.wakeups) names "durable" when it queued tasks
    HUEY.on_wake("durable", spreads=True)(claim.run_due)  # run_due wakes more workers while more is due


@db_periodic_task(crontab(), name="durable.sweep")
def sweep():
    """Every minute, on one consumer: take back expired leases of every kind; wake workers for due rows no wake-up reached."""
    if periodic.take("durable.sweep", periodic.minute_of(timezone.now())):
        lifeline.sweep()


@db_periodic_task(crontab(), name="durable.tick")
def tick():
    """Every minute, on every consumer: enqueue the periodic tasks due (``durable.periodic``; one consumer wins each)."""
    periodic.tick()


@once_per_consumer("durable.lifeline")
def start():
    """At consumer start: rows of every kind held by consumers of this host that died go back at once."""
    lifeline.start()


@when_queue_returns("durable.wake")
def wake_after_queue_outage():
    """The queue is back after an outage: wake the work of every kind enqueued meanwhile now, not at the sweeper."""
    lifeline.queue_is_back()


@once_per_consumer("durable.periodic")
def catch_up():
    """At consumer start: periodic slots missed while no consumer ran are caught up once (or skipped)."""
    periodic.started()


@once_per_consumer("durable.switch_interval")
def switch_interval():
    """The reserved worker waits less for the GIL while CPU-bound tasks hold it (docs/tasks.md, "Slow work and e-mail")."""
    sys.setswitchinterval(settings.DURABLE_SWITCH_INTERVAL_MS / 1000)
