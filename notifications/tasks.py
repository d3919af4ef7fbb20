"""Huey tasks for the outbox: thin wrappers around ``notifications.delivery``."""

import logging
import math
from functools import partial

from django.conf import settings
from django.db import transaction
from huey.contrib.djhuey import HUEY, db_task

from durable import lifeline
from notifications import delivery
from notifications.batch import give_back_untried
from notifications.models import LEASES

logger = logging.getLogger(__name__)


@db_task()
def deliver(ids=()):
    """Send ``ids`` and whatever else is due; schedule the retries it set."""
    run(ids)


def run(ids=()):
    """What a wake-up does: send ``ids`` and whatever else is due; schedule the retries and wake-ups it set."""
    outcome = delivery.deliver(ids)
    if outcome.retry_at:
        enqueue(eta=max(outcome.retry_at))
    if outcome.wake_at:
        enqueue(eta=min(outcome.wake_at))  # the next rate-limit slot: throttled rows go then
    if outcome.more_due:
        enqueue()


def enqueue(ids=(), eta=None):
    """Put a delivery wake-up on the queue; if the queue is down, log and leave it to the sweeper."""
    try:
        if eta is None:
            deliver(list(ids))
        else:
            deliver.schedule(args=(list(ids),), eta=eta)
    except Exception as exc:  # noqa: BLE001 - the row is safe; the sweeper will enqueue it
        logger.warning(
            "outbox %s: could not enqueue (%s: %s); the sweeper will pick it up",
            ",".join(map(str, ids)) or "wake-up",
            type(exc).__name__,
            exc,
        )


def deliver_on_commit(ids):
    """Wake a consumer for ``ids`` once the current transaction commits (at once outside one).

    With the project's queue (``mysite.wakeups``) the transaction's one wake-up names "outbox", and none
    is enqueued while a consumer drains the outbox; elsewhere one delivery task carrying ``ids``.
    """
    if hasattr(HUEY, "wake_on_commit"):
        HUEY.wake_on_commit("outbox")
    else:
        transaction.on_commit(partial(enqueue, list(ids)))


if hasattr(HUEY, "on_wake"):
    HUEY.on_wake("outbox")(run)


def wake_consumers(due):
    """Enqueue enough wake-ups for every worker to help with ``due`` rows."""
    workers = settings.HUEY.get("consumer", {}).get("workers", 1)
    for _ in range(min(workers, math.ceil(due / settings.NOTIFICATIONS_BATCH_SIZE))):
        enqueue()


# The outbox's rows are on the durable lifeline: recovered at start-up, swept each minute, renewed while held and
# woken when the queue returns, as every leased kind is (durable.lifeline). At exit only what was not yet handed to
# the relay goes back: a row on the wire, or sent and not yet recorded, stays `sending` for the next start.
lifeline.register(
    LEASES,
    wake=wake_consumers,
    stale_after=lambda: settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS,
    at_exit=give_back_untried,
)
