"""Huey tasks for reports: thin wrappers around ``reports.generation``."""

import atexit
import logging
from functools import partial

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from durable.startup import once_per_consumer
from reports import generation

logger = logging.getLogger(__name__)


@db_task()
def generate(report_id):
    """Generate report ``report_id`` if it is still queued; then start whatever waited for a free place."""
    generation.generate(report_id)
    for waiting_id in generation.waiting():
        enqueue(waiting_id)


def enqueue(report_id):
    """Put a generation task on the queue; if the queue is down, log and leave it to the sweeper."""
    try:
        generate(report_id)
    except Exception as exc:  # noqa: BLE001 - the row is safe; the sweeper will enqueue it
        logger.warning("report %s: could not enqueue (%s: %s); the sweeper will", report_id, type(exc).__name__, exc)


def generate_on_commit(report_id):
    """Enqueue generation once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, report_id))


@db_periodic_task(crontab(minute="*"))
def sweep():
    """Every minute: requeue reports whose consumer died, and enqueue again reports no task picked up."""
    for report_id in generation.sweep():
        enqueue(report_id)


@once_per_consumer("reports.recover")
def recover_at_startup():
    """Requeue (or fail) what a killed consumer on this host was generating; start what waits for a place.

    What waits includes a report the last consumer gave back as it stopped, should its wake-up be lost.
    """
    atexit.register(generation.LEASES.take_back_at_exit)  # counted as interrupted: cut off part-way
    for report_id in dict.fromkeys([*generation.recover_orphans(), *generation.waiting()]):
        enqueue(report_id)
